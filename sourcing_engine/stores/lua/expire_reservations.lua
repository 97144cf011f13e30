-- expire_reservations (the reaper, idempotent): ARGV[4] limit. Returns {'ok', now, count}.
local limit = tonumber(ARGV[4])
local due = redis.call('ZRANGEBYSCORE', K_HOLD_EXP, '-inf', NOW_SCORE, 'LIMIT', 0, limit)
local count = 0
for _, id in ipairs(due) do
  local r = redis.call('HMGET', k_res(id), 'state', 'units')
  if r[1] == 'active' then
    for _, u in ipairs(cjson.decode(r[2])) do
      if redis.call('ZREM', k_holds(u[2]), hold_member(id, u[1], u[3])) == 1 then
        redis.call('HINCRBY', k_pos(u[2]), 'rs:' .. u[1], -u[3])
      end
    end
    redis.call('HSET', k_res(id), 'state', 'expired')
    emit('reservation.expired', id, '{}', false, hold_json(id))
    count = count + 1
  end
  redis.call('ZREM', K_HOLD_EXP, id)
end
return {'ok', NOW_T, tostring(count)}
