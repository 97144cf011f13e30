-- claim_idempotency_key: ARGV[1] key, [2] request hash, [3] lease seconds.
-- Completed with this hash: {'ok', now, 'done', result} (the caller replays the result). A
-- live lease or a completed key with another hash: mismatch; a live lease with this hash: in
-- flight. An expired lease is taken over with any hash: {'ok', now, 'claimed'}.
local key, hash, lease = ARGV[1], ARGV[2], tonumber(ARGV[3])
local r = redis.call('HMGET', k_idem(key), 'state', 'hash', 'lease_until', 'result')
if r[1] == 'done' or (r[1] == 'inflight' and num(r[3]) > NOW) then
  if r[2] ~= hash then
    return fail('idempotency_mismatch', 'idempotency key ' .. key ..
      ' was used before with another request')
  end
  if r[1] == 'done' then return {'ok', NOW_T, 'done', r[4]} end
  return fail('idempotency_in_flight', 'a request with idempotency key ' .. key ..
    ' is still in flight; retry later')
end
redis.call('DEL', k_idem(key))
redis.call('HSET', k_idem(key), 'state', 'inflight', 'hash', hash, 'lease_until',
  fmt_t(NOW + lease))
-- the TTL only reclaims memory: the lease is judged by lease_until against the clock
redis.call('EXPIRE', k_idem(key), math.ceil(lease) + 60)
return {'ok', NOW_T, 'claimed'}
