-- adjust_stock: ARGV[4] node, [5] sku, [6] delta, [7] reason. Returns the position after.
local node, sku, delta, reason = ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[7]

local e = idem_check()
if e then return e end
local oh, ss, al, rs = position(node, sku, {})
if oh + delta < 0 then
  return fail('invalid', 'adjustment of ' .. sku .. ' at ' .. node .. ' by ' .. delta ..
    ': on hand is ' .. oh .. ' and may not go below zero')
end

-- writes (a new position starts with safety stock 0)
settle(sku)
redis.call('HSET', k_pos(sku), 'oh:' .. node, oh + delta, 'ss:' .. node, ss)
record_move(node, sku, delta)
emit('stock.adjusted', 'stock:' .. node .. '/' .. sku, '{"delta":' .. delta .. ',"reason":' ..
  cjson.encode(reason) .. ',"on_hand":' .. (oh + delta) .. '}', false,
  position_json(node, sku))
local r = {'ok', NOW_T, node, sku, tostring(oh + delta), tostring(ss), tostring(al), tostring(rs)}
if IDEM_KEY ~= '' then
  idem_store(cjson.encode({'position', NOW_T, node, sku, r[5], r[6], r[7], r[8]}))
end
return r
