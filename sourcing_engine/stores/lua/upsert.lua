-- upsert nodes or items (reference data: no events): ARGV[6] 'nodes' or 'items', [7] count,
-- then (id, record JSON) pairs.
local key = ARGV[6] == 'nodes' and K_NODES or K_ITEMS
for j = 0, tonumber(ARGV[7]) - 1 do
  redis.call('HSET', key, ARGV[8 + 2 * j], ARGV[9 + 2 * j])
end
return {'ok', NOW_T}
