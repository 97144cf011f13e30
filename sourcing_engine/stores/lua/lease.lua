-- lease: ARGV[1] 'acquire' or 'release', [2] lease name, [3] holder, [4] lease seconds.
-- acquire: free, expired or held by this holder -> held for the lease from now
-- {'ok', now, 'held'}; another holder's live lease -> {'ok', now, 'busy'}, nothing changed.
-- release: deletes the lease only if this holder holds it.
local op, name, holder, lease = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local key = P .. 'lease:' .. name
local r = redis.call('HMGET', key, 'holder', 'lease_until')
local mine = r[1] == holder
if op == 'release' then
  if mine then redis.call('DEL', key) end
  return {'ok', NOW_T, 'released'}
end
if r[1] and not mine and num(r[2]) > NOW then
  return {'ok', NOW_T, 'busy'}
end
redis.call('HSET', key, 'holder', holder, 'lease_until', fmt_t(NOW + lease))
-- the TTL only reclaims memory: the lease is judged by lease_until against the clock
redis.call('EXPIRE', key, math.ceil(lease) + 60)
return {'ok', NOW_T, 'held'}
