-- adjust_stock_many: ARGV[4] count n, then (node, sku, delta, reason) per adjustment, applied
-- in order, all or nothing: every entry that would take on hand below zero (counting the
-- earlier entries) comes back as [index, on hand before it] (kind 'entries').
-- Returns {'ok', now, (node, sku, oh, ss, al, rs) after each adjustment}.
local n = tonumber(ARGV[4])

local e = idem_check()
if e then return e end
local on_hand, problems = {}, {}
for j = 0, n - 1 do
  local node, sku, delta = ARGV[5 + 4 * j], ARGV[6 + 4 * j], tonumber(ARGV[7 + 4 * j])
  local id = node .. '/' .. sku
  if on_hand[id] == nil then on_hand[id] = num(redis.call('HGET', k_pos(sku), 'oh:' .. node)) end
  if on_hand[id] + delta < 0 then
    problems[#problems + 1] = {j, on_hand[id]}
  else
    on_hand[id] = on_hand[id] + delta
  end
end
if #problems > 0 then return fail('entries', 'adjustments', cjson.encode(problems)) end

-- writes (a new position starts with safety stock 0)
local r = {'ok', NOW_T}
for j = 0, n - 1 do
  local node, sku = ARGV[5 + 4 * j], ARGV[6 + 4 * j]
  local delta, reason = tonumber(ARGV[7 + 4 * j]), ARGV[8 + 4 * j]
  settle(sku)
  local oh, ss, al, rs = position(node, sku, {})
  redis.call('HSET', k_pos(sku), 'oh:' .. node, oh + delta, 'ss:' .. node, ss)
  record_move(node, sku, delta)
  emit('stock.adjusted', 'stock:' .. node .. '/' .. sku, '{"delta":' .. delta .. ',"reason":' ..
    cjson.encode(reason) .. ',"on_hand":' .. (oh + delta) .. '}', false,
    position_json(node, sku))
  add_position(r, node, sku, oh + delta, ss, al, rs)
end
return positions_reply(r)
