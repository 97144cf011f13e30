-- upsert nodes, items or settings (reference data: no events): ARGV[4] 'nodes', 'items' or
-- 'settings', [5] count, then (id, record JSON) pairs.
local keys = {nodes = K_NODES, items = K_ITEMS, settings = P .. 'settings'}
local key = keys[ARGV[4]]
for j = 0, tonumber(ARGV[5]) - 1 do
  redis.call('HSET', key, ARGV[6 + 2 * j], ARGV[7 + 2 * j])
end
return {'ok', NOW_T}
