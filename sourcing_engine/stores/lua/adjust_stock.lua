-- adjust_stock: ARGV[6] node, [7] sku, [8] delta, [9] reason. Returns the position after.
local node, sku, delta, reason = ARGV[6], ARGV[7], tonumber(ARGV[8]), ARGV[9]

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
emit('stock.adjusted', 'stock:' .. node .. '/' .. sku, '{"delta":' .. delta .. ',"reason":' ..
  cjson.encode(reason) .. ',"on_hand":' .. (oh + delta) .. '}', false)
idem_store()
return {'ok', NOW_T, node, sku, tostring(oh + delta), tostring(ss), tostring(al), tostring(rs)}
