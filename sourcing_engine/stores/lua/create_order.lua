-- create_order: ARGV[6] order id, [7] document JSON, [8..] lines, then allocations.
local order_id, doc = ARGV[6], ARGV[7]
local lines, i = read_lines(8)
local units = read_units(i)

local e = idem_check()
if e then return e end
if not lines_match(lines, units) then
  return fail('invalid', 'order ' .. order_id ..
    ': lines must be the allocated units per SKU, and not empty')
end
if redis.call('EXISTS', k_order(order_id)) == 1 then
  return fail('conflict', 'order ' .. order_id .. ' already exists',
    redis.call('HGET', k_order(order_id), 'state'))
end
local short = shortages(units)
if #short > 0 then return insufficient(short) end

-- writes
local settled = {}
for _, u in ipairs(units) do
  if not settled[u[2]] then settle(u[2]); settled[u[2]] = true end
end
allocate(units)
local o = {state = 'allocated', version = 1, created_at = NOW_T, lines = lines, alloc = units,
  shipped = {}, returned = {}, released = {}, doc = doc}
order_save(order_id, o)
order_emit(order_id, o, 'order.created', '"lines":' .. cjson.encode(lines) ..
  ',"reservation_id":null')
order_emit(order_id, o, 'order.allocated', '"units":' .. units_json(units))
idem_store()
return hash_reply(k_order(order_id))
