-- release_reservation: ARGV[4] hold id.
local id = ARGV[4]

local e = idem_check()
if e then return e end
local r = redis.call('HMGET', k_res(id), 'state', 'expires_at', 'units')
if not r[1] then return fail('not_found', 'reservation ' .. id .. ' not found') end
local state = r[1]
if state == 'active' and tonumber(r[2]) <= NOW then state = 'expired' end
if state ~= 'active' then
  return fail('conflict', 'reservation ' .. id .. ' is ' .. state, state)
end

-- writes
for _, u in ipairs(cjson.decode(r[3])) do
  if redis.call('ZREM', k_holds(u[2]), hold_member(id, u[1], u[3])) == 1 then
    redis.call('HINCRBY', k_pos(u[2]), 'rs:' .. u[1], -u[3])
  end
end
redis.call('ZREM', K_HOLD_EXP, id)
redis.call('HSET', k_res(id), 'state', 'released')
emit('reservation.released', id, '{}', false, hold_json(id))
return stored_reply('reservation', id, k_res(id))
