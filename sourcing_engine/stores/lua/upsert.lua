-- upsert nodes or items (reference data: no events): ARGV[4] 'nodes' or 'items', [5] count,
-- then (id, record JSON) pairs.
local key = ARGV[4] == 'nodes' and K_NODES or K_ITEMS
for j = 0, tonumber(ARGV[5]) - 1 do
  redis.call('HSET', key, ARGV[6 + 2 * j], ARGV[7 + 2 * j])
end
return {'ok', NOW_T}
