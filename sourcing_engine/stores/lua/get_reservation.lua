-- get_reservation (read only): ARGV[1] hold id.
if redis.call('EXISTS', k_res(ARGV[1])) == 0 then
  return fail('not_found', 'reservation ' .. ARGV[1] .. ' not found')
end
return hash_reply(k_res(ARGV[1]))
