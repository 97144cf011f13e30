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
  -- the last unrevoked admin key stays: ARGV[3] is the refusal's message
  local key = cjson.decode(old)
  local function is_admin(k)
    for _, s in ipairs(k.scopes or {}) do if s == 'admin' then return true end end
    return false
  end
  if not key.revoked and is_admin(key) then
    local another = false
    local all = redis.call('HGETALL', K_APIKEYS)
    for j = 1, #all, 2 do
      local k = cjson.decode(all[j + 1])
      if all[j] ~= id and not k.revoked and is_admin(k) then another = true end
    end
    if not another then return fail('conflict', ARGV[3]) end
  end
  -- rewritten by hand: cjson would lose digits of created_at and turn [] into {}
  redis.call('HSET', K_APIKEYS, id, (string.gsub(old, '"revoked":false}$', '"revoked":true}')))
end
return {'ok', NOW_T, redis.call('HGET', K_APIKEYS, id)}
