-- commit_reservation: ARGV[6] hold id, [7] order id, [8] document JSON, [9..] lines.
local id, order_id, doc = ARGV[6], ARGV[7], ARGV[8]
local lines = read_lines(9)

local e = idem_check()
if e then return e end
local r = redis.call('HMGET', k_res(id), 'state', 'expires_at', 'units')
if not r[1] then return fail('not_found', 'reservation ' .. id .. ' not found') end
local state = r[1]
if state == 'active' and tonumber(r[2]) <= NOW then state = 'expired' end
local units = cjson.decode(r[3])
if state == 'active' then
  -- A member gone from its set was counted out as expired (possible only if the server clock
  -- stepped back): the hold then stays expired rather than allocating uncounted units.
  for _, u in ipairs(units) do
    if not redis.call('ZSCORE', k_holds(u[2]), hold_member(id, u[1], u[3])) then
      state = 'expired'
    end
  end
end
if state ~= 'active' then
  return fail('conflict', 'reservation ' .. id .. ' is ' .. state, state)
end
if not lines_match(lines, units) then
  return fail('invalid', 'order ' .. order_id .. ': lines must be the held units per SKU')
end
if redis.call('EXISTS', k_order(order_id)) == 1 then
  return fail('conflict', 'order ' .. order_id .. ' already exists',
    redis.call('HGET', k_order(order_id), 'state'))
end

-- writes: the held units become the order's allocations
for _, u in ipairs(units) do
  redis.call('ZREM', k_holds(u[2]), hold_member(id, u[1], u[3]))
  redis.call('HINCRBY', k_pos(u[2]), 'rs:' .. u[1], -u[3])
end
allocate(units)
redis.call('ZREM', K_HOLD_EXP, id)
redis.call('HSET', k_res(id), 'state', 'committed', 'order_id', order_id)
local o = {state = 'allocated', version = 1, created_at = NOW_T, lines = lines, alloc = units,
  shipped = {}, returned = {}, released = {}, doc = doc}
order_save(order_id, o)
emit('reservation.committed', id, '{"order_id":' .. cjson.encode(order_id) .. '}', false)
order_emit(order_id, o, 'order.created', '"lines":' .. cjson.encode(lines) ..
  ',"reservation_id":' .. cjson.encode(id))
order_emit(order_id, o, 'order.allocated', '"units":' .. units_json(units))
idem_store()
return hash_reply(k_order(order_id))
