-- put_setting: replace one setting if it is at the expected version. ARGV[4] name, [5] value
-- JSON, [6] expected version ('' for any; 0: none stored yet). Field <name> of hash
-- "settings" holds the value, field "v:<name>" its version (a setting written before
-- versions were kept is at version 1).
local K = P .. 'settings'
local name, expected = ARGV[4], ARGV[6]
local found = redis.call('HMGET', K, name, 'v:' .. name)
local stored = 0
if found[1] then stored = tonumber(found[2]) or 1 end
if expected ~= '' and tonumber(expected) ~= stored then
  return fail('precondition_failed', 'settings ' .. name .. ': version is ' .. stored ..
    ', not ' .. expected .. '; read them again and apply the change to what is there now')
end
redis.call('HSET', K, name, ARGV[5], 'v:' .. name, stored + 1)
emit('settings.changed', 'settings:' .. name,
  '{"version":' .. (stored + 1) .. ',"value":' .. ARGV[5] .. '}', false,
  '{"name":' .. cjson.encode(name) .. ',"version":' .. (stored + 1) .. ',"value":' .. ARGV[5] ..
  '}')
return {'ok', NOW_T, tostring(stored + 1)}
