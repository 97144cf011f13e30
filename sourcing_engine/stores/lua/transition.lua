-- transition: ARGV[6] order id, [7] action, [8] expected version ('' for any), [9] node ('' for
-- none), [10] restock '1'/'0', [11] '1' if [12] is a new document, [13..] units, then new
-- allocations. One step of the order state machine (docs/service.md, ledger.Store.transition):
-- every check runs on the order in memory; Redis is written only once all of them passed.
local order_id, action, expected, node = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local restock, has_doc, doc = ARGV[10] == '1', ARGV[11] == '1', ARGV[12]
local units, i = read_units(13)
local new_units = read_units(i)

local ALLOWED = {
  release = {allocated = true},
  ship = {allocated = true, released = true, partially_shipped = true},
  cancel = {allocated = true, released = true, partially_shipped = true},
  reject = {allocated = true, released = true, partially_shipped = true},
  reallocate = {allocated = true, released = true, partially_shipped = true},
  ['return'] = {partially_shipped = true, shipped = true},
}
-- arguments each action takes (node: required where taken)
local TAKES = {
  release = {}, ship = {node = true}, cancel = {units = true},
  reject = {node = true, units = true, new = true}, reallocate = {units = true, new = true},
  ['return'] = {units = true},
}

local e = idem_check()
if e then return e end
local o = order_load(order_id)
if not o then return fail('not_found', 'order ' .. order_id .. ' not found') end
local state0 = o.state
local function conflict(message)
  return fail('conflict', 'order ' .. order_id .. ': ' .. message, state0)
end
if not ALLOWED[action][o.state] then
  return conflict('cannot ' .. action .. ' an order that is ' .. o.state)
end
if expected ~= '' and tonumber(expected) ~= o.version then
  return conflict('version is ' .. o.version .. ', not ' .. expected)
end
local takes = TAKES[action]
if takes.node and node == '' then
  return fail('invalid', 'order ' .. order_id .. ' ' .. action .. ': a node is required')
end
if (node ~= '' and not takes.node) or (#units > 0 and not takes.units) or
    (#new_units > 0 and not takes.new) then
  local names = {}
  if takes.node then names[#names + 1] = 'node' end
  if takes.units then names[#names + 1] = 'units' end
  if takes.new then names[#names + 1] = 'new_allocations' end
  return fail('invalid', 'order ' .. order_id .. ' ' .. action .. ': only takes ' ..
    (#names > 0 and table.concat(names, ', ') or 'no arguments'))
end

local function copy(list)
  local out = {}
  for j, u in ipairs(list) do out[j] = {u[1], u[2], u[3]} end
  return out
end
local function at_node(list, n)
  local out = {}
  for _, u in ipairs(list) do
    if u[1] == n then out[#out + 1] = {u[1], u[2], u[3]} end
  end
  return out
end
-- have -= take, or the Conflict naming a unit the order does not hold
local function subtract(have, take, what)
  for _, u in ipairs(take) do
    local q = ulist_get(have, u[1], u[2])
    if q < u[3] then
      return conflict(what .. ' ' .. u[3] .. ' of ' .. u[2] .. ' at ' .. u[1] ..
        ' but the order has ' .. q)
    end
  end
  for _, u in ipairs(take) do ulist_add(have, u[1], u[2], -u[3]) end
  return nil
end
local function add(have, list)
  for _, u in ipairs(list) do ulist_add(have, u[1], u[2], u[3]) end
end
local function take_lines(per)
  for sku, q in pairs(per) do
    o.lines[sku] = (o.lines[sku] or 0) - q
    if o.lines[sku] <= 0 then o.lines[sku] = nil end
  end
end
local function settle_state()
  if #o.alloc == 0 then
    o.state = #o.shipped > 0 and 'shipped' or 'cancelled'
  elseif #o.shipped > 0 then
    o.state = 'partially_shipped'
  end
end
local function freed_of(list)
  local f = {}
  for _, u in ipairs(list) do f[u[1] .. '\0' .. u[2]] = (f[u[1] .. '\0' .. u[2]] or 0) + u[3] end
  return f
end
local function add_released(list)
  if o.state ~= 'released' then return end
  local seen, out = {}, {}
  for _, n in ipairs(o.released) do seen[n] = true; out[#out + 1] = n end
  for _, u in ipairs(list) do
    if not seen[u[1]] then seen[u[1]] = true; out[#out + 1] = u[1] end
  end
  table.sort(out, bytes_lt)
  o.released = out
end

-- Inventory effects, applied after every check: allocated deltas and on-hand changes.
local al_delta, oh_take, oh_give = {}, {}, {}
local events = {}
local function ev(etype, body) events[#events + 1] = {etype, body} end

if action == 'release' then
  local seen, nodes = {}, {}
  for _, u in ipairs(o.alloc) do
    if not seen[u[1]] then seen[u[1]] = true; nodes[#nodes + 1] = u[1] end
  end
  table.sort(nodes, bytes_lt)
  o.released = nodes
  o.state = 'released'
  ev('order.released', '"nodes":' .. strings_json(nodes))
elseif action == 'ship' then
  local shipping = at_node(o.alloc, node)
  if #shipping == 0 then return conflict('nothing allocated at ' .. node .. ' to ship') end
  e = subtract(o.alloc, shipping, 'ship')
  if e then return e end
  add(o.shipped, shipping)
  al_delta[#al_delta + 1] = {shipping, -1}
  oh_take = shipping
  settle_state()
  ev('order.shipped', '"node":' .. cjson.encode(node) .. ',"units":' .. units_json(shipping))
elseif action == 'cancel' then
  local cancelling = #units > 0 and units or copy(o.alloc)
  e = subtract(o.alloc, cancelling, 'cancel')
  if e then return e end
  al_delta[#al_delta + 1] = {cancelling, -1}
  take_lines(per_sku(cancelling))
  settle_state()
  ev('order.cancelled', '"units":' .. units_json(cancelling))
elseif action == 'reject' then
  local rejected = #units > 0 and units or at_node(o.alloc, node)
  local misplaced = false
  for _, u in ipairs(rejected) do if u[1] ~= node then misplaced = true end end
  for _, u in ipairs(new_units) do if u[1] == node then misplaced = true end end
  if misplaced then
    return fail('invalid', 'order ' .. order_id .. ' reject at ' .. node ..
      ': rejected units must be at that node and new allocations elsewhere')
  end
  if #rejected == 0 then return conflict('nothing allocated at ' .. node .. ' to reject') end
  local unfillable = per_sku(rejected)
  for sku, q in pairs(per_sku(new_units)) do
    if q > (unfillable[sku] or 0) then
      return fail('invalid', 'order ' .. order_id .. ' reject: ' .. q .. ' of ' .. sku ..
        ' re-allocated but only ' .. (unfillable[sku] or 0) .. ' rejected')
    end
    unfillable[sku] = unfillable[sku] - q
  end
  e = subtract(o.alloc, rejected, 'reject')
  if e then return e end
  local short = shortages(new_units, freed_of(rejected))
  if #short > 0 then return insufficient(short) end
  al_delta[#al_delta + 1] = {rejected, -1}
  al_delta[#al_delta + 1] = {new_units, 1}
  add(o.alloc, new_units)
  add_released(new_units)
  local left, skus = {}, {}
  for sku, q in pairs(unfillable) do
    if q > 0 then left[sku] = q; skus[#skus + 1] = sku end
  end
  take_lines(left)
  settle_state()
  ev('order.rejected', '"node":' .. cjson.encode(node) .. ',"units":' .. units_json(rejected))
  if #new_units > 0 then
    ev('order.reallocated', '"released":' .. units_json(rejected) .. ',"units":' ..
      units_json(new_units))
  end
  if #skus > 0 then
    table.sort(skus, bytes_lt)
    local parts = {}
    for j, sku in ipairs(skus) do parts[j] = cjson.encode(sku) .. ':' .. left[sku] end
    ev('order.lines_unfillable', '"lines":{' .. table.concat(parts, ',') .. '}')
  end
elseif action == 'reallocate' then
  local from, to = per_sku(units), per_sku(new_units)
  local same = #units > 0
  for sku, q in pairs(from) do if to[sku] ~= q then same = false end end
  for sku, q in pairs(to) do if from[sku] ~= q then same = false end end
  if not same then
    return fail('invalid', 'order ' .. order_id .. ' reallocate: new allocations must move ' ..
      'exactly the released units per SKU')
  end
  e = subtract(o.alloc, units, 'reallocate')
  if e then return e end
  local short = shortages(new_units, freed_of(units))
  if #short > 0 then return insufficient(short) end
  al_delta[#al_delta + 1] = {units, -1}
  al_delta[#al_delta + 1] = {new_units, 1}
  add(o.alloc, new_units)
  add_released(new_units)
  ev('order.reallocated', '"released":' .. units_json(units) .. ',"units":' ..
    units_json(new_units))
elseif action == 'return' then
  local outstanding = copy(o.shipped)
  e = subtract(outstanding, o.returned, 'return')
  if e then return e end
  local returning = #units > 0 and units or copy(outstanding)
  if #returning == 0 then return conflict('nothing shipped is left to return') end
  e = subtract(outstanding, returning, 'return')
  if e then return e end
  add(o.returned, returning)
  if restock then oh_give = returning end
  if o.state == 'shipped' and #outstanding == 0 then o.state = 'returned' end
  ev('order.returned', '"units":' .. units_json(returning) .. ',"restock":' ..
    (restock and 'true' or 'false'))
end

-- writes
local settled = {}
for _, list in ipairs({units, new_units, oh_take}) do
  for _, u in ipairs(list) do
    if not settled[u[2]] then settle(u[2]); settled[u[2]] = true end
  end
end
for _, d in ipairs(al_delta) do
  for _, u in ipairs(d[1]) do redis.call('HINCRBY', k_pos(u[2]), 'al:' .. u[1], d[2] * u[3]) end
end
for _, u in ipairs(oh_take) do
  -- a snapshot may have counted fewer units than were allocated: never below zero
  local oh = num(redis.call('HGET', k_pos(u[2]), 'oh:' .. u[1]))
  redis.call('HSET', k_pos(u[2]), 'oh:' .. u[1], math.max(0, oh - u[3]))
end
for _, u in ipairs(oh_give) do
  if redis.call('HEXISTS', k_pos(u[2]), 'ss:' .. u[1]) == 0 then
    redis.call('HSET', k_pos(u[2]), 'ss:' .. u[1], 0)
  end
  redis.call('HINCRBY', k_pos(u[2]), 'oh:' .. u[1], u[3])
end
if has_doc then o.doc = doc end
o.version = o.version + 1
order_save(order_id, o)
for _, x in ipairs(events) do order_emit(order_id, o, x[1], x[2]) end
idem_store()
return hash_reply(k_order(order_id))
