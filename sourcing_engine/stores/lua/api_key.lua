-- API keys: ARGV[1] 'create' or 'revoke', [2] key id, [3] name, [4] secret hash,
-- [5] scopes JSON. Records in hash "apikeys" (id -> JSON); secrets only as hashes.
local op, id = ARGV[1], ARGV[2]
local old = redis.call('HGET', K_APIKEYS, id)
if op == 'create' then
  if old then return fail('conflict', 'API key ' .. id .. ' already exists') end
  redis.call('HSET', K_APIKEYS, id, '{"name":' .. cjson.encode(ARGV[3]) .. ',"secret_hash":' ..
    cjson.encode(ARGV[4]) .. ',"scopes":' .. ARGV[5] .. ',"created_at":' .. NOW_T ..
    ',"revoked":false}')
else
  if not old then return fail('not_found', 'API key ' .. id .. ' not found') end
  -- rewritten by hand: cjson would lose digits of created_at and turn [] into {}
  redis.call('HSET', K_APIKEYS, id, (string.gsub(old, '"revoked":false}$', '"revoked":true}')))
end
return {'ok', NOW_T, redis.call('HGET', K_APIKEYS, id)}
