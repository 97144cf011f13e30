-- Webhooks: ARGV[4] the operation, [5] the webhook id. Subscriptions in hash "webhooks"
-- (id -> JSON); the deliverer's progress in "whprog:<id>", replay requests in list
-- "whrep:<id>" ("after,through"), deliveries given up on in list "whfail:<id>", newest first.
local op, id = ARGV[4], ARGV[5]
local K_WEBHOOKS = P .. 'webhooks'
local exists = redis.call('HEXISTS', K_WEBHOOKS, id) == 1
if op == 'create' then
  -- [6] url, [7] event types JSON, [8] secret
  if exists then return fail('conflict', 'webhook ' .. id .. ' already exists') end
  redis.call('HSET', K_WEBHOOKS, id, '{"url":' .. cjson.encode(ARGV[6]) .. ',"event_types":' ..
    ARGV[7] .. ',"secret":' .. cjson.encode(ARGV[8]) .. ',"created_at":' .. NOW_T .. '}')
  return {'ok', NOW_T}
end
if op == 'save' then
  -- [6] progress JSON, [7] failure JSON or '': nothing for a webhook deleted meanwhile
  if exists then
    redis.call('SET', P .. 'whprog:' .. id, ARGV[6])
    if ARGV[7] ~= '' then redis.call('LPUSH', P .. 'whfail:' .. id, ARGV[7]) end
  end
  return {'ok', NOW_T}
end
if not exists then return fail('not_found', 'webhook ' .. id .. ' not found') end
if op == 'delete' then
  redis.call('HDEL', K_WEBHOOKS, id)
  redis.call('DEL', P .. 'whprog:' .. id, P .. 'whrep:' .. id, P .. 'whfail:' .. id)
  return {'ok', NOW_T}
end
-- 'replay': [6] after, [7] through
return {'ok', NOW_T, tostring(redis.call('RPUSH', P .. 'whrep:' .. id, ARGV[6] .. ',' .. ARGV[7]))}
