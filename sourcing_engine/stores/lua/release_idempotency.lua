-- release_idempotency_key: ARGV[1] key.
-- Deletes the key only while it is an in-flight claim (a refused call stored no reply);
-- a completed key keeps its reply, an unknown key stays unknown.
local key = ARGV[1]
if redis.call('HGET', k_idem(key), 'state') == 'inflight' then
  redis.call('DEL', k_idem(key))
  return {'ok', NOW_T, 'released'}
end
return {'ok', NOW_T, 'kept'}
