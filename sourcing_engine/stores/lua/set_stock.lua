-- set_stock (a WMS / POS snapshot at one node): ARGV[4] node, [5] reason, [6] count, then
-- (sku, on_hand, safety_stock) triples; safety stock '' keeps the stored value (0 if new).
-- Allocations and holds stay. Each correction of on hand is recorded as a movement.
local node, reason, n = ARGV[4], ARGV[5], tonumber(ARGV[6])
local counts, skus = {}, {}
for j = 0, n - 1 do
  local sku, oh, ss = ARGV[7 + 3 * j], tonumber(ARGV[8 + 3 * j]), ARGV[9 + 3 * j]
  local v = redis.call('HMGET', k_pos(sku), 'oh:' .. node, 'ss:' .. node)
  local ss_n = (ss == '') and num(v[2]) or tonumber(ss)
  record_move(node, sku, oh - num(v[1]))
  redis.call('HSET', k_pos(sku), 'oh:' .. node, oh, 'ss:' .. node, ss_n)
  if not counts[sku] then skus[#skus + 1] = sku end
  counts[sku] = {oh, (ss == '') and cjson.null or ss_n}
end
table.sort(skus, bytes_lt)
local positions = {}
for k, sku in ipairs(skus) do positions[k] = position_json(node, sku) end
emit('stock.snapshot', 'node:' .. node, '{"reason":' .. cjson.encode(reason) .. ',"counts":' ..
  cjson.encode(counts) .. '}', false, '{"node":' .. cjson.encode(node) .. ',"positions":[' ..
  table.concat(positions, ',') .. ']}')
return {'ok', NOW_T}
