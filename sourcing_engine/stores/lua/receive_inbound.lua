-- receive_inbound: ARGV[4] inbound id, [5] qty. Its node's on hand rises by qty, its open
-- quantity falls by qty (the record goes once nothing is open). Returns the position after.
local id, qty = ARGV[4], tonumber(ARGV[5])

local e = idem_check()
if e then return e end
local raw = redis.call('HGET', K_INBOUND, id)
if not raw then
  return fail('not_found', 'inbound ' .. id .. ': unknown, or received in full already')
end
local rec = cjson.decode(raw)
local open = tonumber(rec.qty)
if qty > open then
  return fail('invalid', 'receipt of inbound ' .. id .. ': ' .. qty .. ' units, but ' .. open ..
    ' are open')
end
local node, sku = rec.node, rec.sku
local oh, ss, al, rs = position(node, sku, {})

-- writes
if qty == open then
  redis.call('HDEL', K_INBOUND, id)
  redis.call('SREM', k_inb(sku), id)
else
  rec.qty = open - qty
  redis.call('HSET', K_INBOUND, id, cjson.encode(rec))
end
settle(sku)
redis.call('HSET', k_pos(sku), 'oh:' .. node, oh + qty, 'ss:' .. node, ss)
emit('inbound.received', 'stock:' .. node .. '/' .. sku, '{"inbound":' .. cjson.encode(id) ..
  ',"qty":' .. qty .. ',"open":' .. (open - qty) .. ',"on_hand":' .. (oh + qty) .. '}', false,
  position_json(node, sku))
local r = {'ok', NOW_T, node, sku, tostring(oh + qty), tostring(ss), tostring(al), tostring(rs)}
if IDEM_KEY ~= '' then
  idem_store(cjson.encode({'position', NOW_T, node, sku, r[5], r[6], r[7], r[8]}))
end
return r
