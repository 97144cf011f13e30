-- set_stock (a WMS / POS snapshot at one node): ARGV[4] node, [5] reason, [6] count, then
-- (sku, on_hand, safety_stock) triples. Allocations and holds stay as they are.
local node, reason, n = ARGV[4], ARGV[5], tonumber(ARGV[6])
local counts, skus = {}, {}
for j = 0, n - 1 do
  local sku, oh, ss = ARGV[7 + 3 * j], tonumber(ARGV[8 + 3 * j]), tonumber(ARGV[9 + 3 * j])
  redis.call('HSET', k_pos(sku), 'oh:' .. node, oh, 'ss:' .. node, ss)
  if not counts[sku] then skus[#skus + 1] = sku end
  counts[sku] = {oh, ss}
end
table.sort(skus, bytes_lt)
local positions = {}
for k, sku in ipairs(skus) do positions[k] = position_json(node, sku) end
emit('stock.snapshot', 'node:' .. node, '{"reason":' .. cjson.encode(reason) .. ',"counts":' ..
  cjson.encode(counts) .. '}', false, '{"node":' .. cjson.encode(node) .. ',"positions":[' ..
  table.concat(positions, ',') .. ']}')
return {'ok', NOW_T}
