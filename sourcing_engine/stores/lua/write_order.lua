-- write_order: a new order or one step of an order, as `sourcing_engine.lifecycle` computed
-- it from the order as read, written only if the order is still at that version.
-- ARGV[4] order id; [5] expected version (0: the order must not exist yet); [6] hold id
-- ('' for none: with one, the order is that hold committed, and the hold must still be
-- active); [7] state; [8] lines JSON; [9] allocations, [10] shipped, [11] returned (JSON
-- [[node, sku, qty], ...]); [12] released nodes JSON; [13] document JSON; [14] created_at
-- ('' for now); then the step's effects as unit lists (count, then node, sku, qty triples):
-- allocate, free, ship, restock; then the events: count, then (type, data JSON) pairs; then
-- each node's day for capacity: count, then (node, day) pairs (every node the order holds);
-- then the backorders: the order's backordered JSON, and the changes to its promises on
-- inbound supply: count, then (inbound, sku, node, delta, left) quintuples (left: what the
-- order still waits for on that inbound after the step); then the order's search terms
-- after the step: count, then the terms; then the order's resource JSON (its events carry
-- it).
local order_id, expected, hold_id = ARGV[4], tonumber(ARGV[5]), ARGV[6]
local allocate, i = read_units(15)
local free
free, i = read_units(i)
local ship
ship, i = read_units(i)
local restock
restock, i = read_units(i)

local e = idem_check()
if e then return e end
local key = k_order(order_id)
local found = redis.call('HMGET', key, 'state', 'version')
if expected == 0 then
  if found[1] then
    return fail('conflict', 'order ' .. order_id .. ' already exists', found[1])
  end
else
  if not found[1] then return fail('not_found', 'order ' .. order_id .. ' not found') end
  if tonumber(found[2]) ~= expected then
    return fail('conflict', 'order ' .. order_id .. ': version is ' .. found[2] .. ', not ' ..
      expected, found[1])
  end
end

local held = nil
if hold_id ~= '' then
  local r = redis.call('HMGET', k_res(hold_id), 'state', 'expires_at', 'units')
  if not r[1] then return fail('not_found', 'reservation ' .. hold_id .. ' not found') end
  local state = r[1]
  if state == 'active' and tonumber(r[2]) <= NOW then state = 'expired' end
  held = cjson.decode(r[3])
  if state == 'active' then
    -- A member gone from its set was counted out as expired (possible only if the server
    -- clock stepped back): the hold then stays expired rather than allocating uncounted units.
    for _, u in ipairs(held) do
      if not redis.call('ZSCORE', k_holds(u[2]), hold_member(hold_id, u[1], u[3])) then
        state = 'expired'
      end
    end
  end
  if state ~= 'active' then
    return fail('conflict', 'reservation ' .. hold_id .. ' is ' .. state, state)
  end
  -- the order is the hold's units exactly (the caller computed it from the hold it read)
  if units_json(held) ~= units_json(allocate) then
    return fail('invalid', 'order ' .. order_id .. ': its allocations must be the units of ' ..
      'reservation ' .. hold_id)
  end
else
  -- a hold's units are held already; anything else newly allocated must be available
  local freed = {}
  for _, u in ipairs(free) do
    freed[u[1] .. '\0' .. u[2]] = (freed[u[1] .. '\0' .. u[2]] or 0) + u[3]
  end
  local short = shortages(allocate, freed)
  if #short > 0 then return insufficient(short) end
end

-- capacity: each node's units of the order (allocated + shipped) against what it was
-- charged (hash ocap:<order>, node -> "day|shipments|units"), counted in cap:<day>
local ci = i + 1 + 2 * tonumber(ARGV[i])
local bi = ci + 1 + 2 * tonumber(ARGV[ci])  -- the backorders
local ti = bi + 2 + 5 * tonumber(ARGV[bi + 1])  -- the search terms
local days = {}
for j = 0, tonumber(ARGV[ci]) - 1 do days[ARGV[ci + 1 + 2 * j]] = ARGV[ci + 2 + 2 * j] end
local target = {}
for _, raw in ipairs({ARGV[9], ARGV[10]}) do
  for _, u in ipairs(cjson.decode(raw)) do target[u[1]] = (target[u[1]] or 0) + u[3] end
end
local k_ocap = P .. 'ocap:' .. order_id
local charged, nodes = {}, {}
local flat = redis.call('HGETALL', k_ocap)
for j = 1, #flat, 2 do
  local d, s, u = string.match(flat[j + 1], '^(.-)|(%d+)|(%d+)$')
  charged[flat[j]] = {d, tonumber(s), tonumber(u)}
  nodes[#nodes + 1] = flat[j]
end
for node, _ in pairs(target) do
  if not charged[node] then nodes[#nodes + 1] = node end
end
table.sort(nodes, bytes_lt)
local changes, cshort = {}, {}
for _, node in ipairs(nodes) do
  local units = target[node] or 0
  local ships = (units > 0) and 1 or 0
  local c = charged[node] or {nil, 0, 0}
  local ds, du = ships - c[2], units - c[3]
  if ds ~= 0 or du ~= 0 then
    local day = c[1] or days[node]
    if not day then
      return fail('invalid', 'order ' .. order_id .. ': no capacity day for node ' .. node)
    end
    local rec = (ds > 0 or du > 0) and redis.call('HGET', K_NODES, node)
    if rec then
      local n = cjson.decode(rec)
      local used = redis.call('HMGET', P .. 'cap:' .. day, 's:' .. node, 'u:' .. node)
      for _, x in ipairs({{'shipments', ds, n.ship_capacity, num(used[1])},
                          {'units', du, n.unit_capacity, num(used[2])}}) do
        if x[2] > 0 and type(x[3]) == 'number' and x[4] + x[2] > x[3] then
          cshort[#cshort + 1] = {node = node, day = day, what = x[1], requested = x[2],
            left = math.max(0, x[3] - x[4])}
        end
      end
    end
    changes[#changes + 1] = {node, day, ds, du, ships, units}
  end
end
if #cshort > 0 then
  return fail('insufficient_capacity', 'node capacity exhausted', cjson.encode(cshort))
end

-- backorders: a new promise may take only the inbound's open units no order waits for
-- (hash bosum: inbound -> units promised; zset bo:<inbound>: the orders waiting, oldest first)
local backordered = ARGV[bi]
local promises = {}
for j = 0, tonumber(ARGV[bi + 1]) - 1 do
  local at = bi + 2 + 5 * j
  promises[#promises + 1] = {ARGV[at], ARGV[at + 1], ARGV[at + 2], tonumber(ARGV[at + 3]),
    tonumber(ARGV[at + 4])}
end
local bshort = {}
for _, b in ipairs(promises) do
  if b[4] > 0 then
    local rec = redis.call('HGET', K_INBOUND, b[1])
    local open = rec and tonumber(cjson.decode(rec).qty) or 0
    local free = math.max(0, open - num(redis.call('HGET', K_BOSUM, b[1])))
    if b[4] > free then
      bshort[#bshort + 1] = {sku = b[2], nodes = {b[3]}, requested = b[4], available = free}
    end
  end
end
if #bshort > 0 then return insufficient(bshort) end

-- writes
for _, c in ipairs(changes) do
  local key = P .. 'cap:' .. c[2]
  for _, x in ipairs({{'s:', c[3]}, {'u:', c[4]}}) do
    if x[2] ~= 0 and redis.call('HINCRBY', key, x[1] .. c[1], x[2]) < 0 then
      redis.call('HSET', key, x[1] .. c[1], 0)
    end
  end
  if c[6] > 0 then
    redis.call('HSET', k_ocap, c[1], c[2] .. '|' .. c[5] .. '|' .. c[6])
  else
    redis.call('HDEL', k_ocap, c[1])
  end
end
local settled = {}
for _, list in ipairs({allocate, free, ship}) do
  for _, u in ipairs(list) do
    if not settled[u[2]] then settle(u[2]); settled[u[2]] = true end
  end
end
if held then
  for _, u in ipairs(held) do
    redis.call('ZREM', k_holds(u[2]), hold_member(hold_id, u[1], u[3]))
    redis.call('HINCRBY', k_pos(u[2]), 'rs:' .. u[1], -u[3])
  end
  redis.call('ZREM', K_HOLD_EXP, hold_id)
  redis.call('HSET', k_res(hold_id), 'state', 'committed', 'order_id', order_id)
  emit('reservation.committed', hold_id, '{"order_id":' .. cjson.encode(order_id) .. '}', false,
    hold_json(hold_id))
end
for _, u in ipairs(free) do redis.call('HINCRBY', k_pos(u[2]), 'al:' .. u[1], -u[3]) end
for _, u in ipairs(allocate) do redis.call('HINCRBY', k_pos(u[2]), 'al:' .. u[1], u[3]) end
for _, u in ipairs(ship) do
  -- a count may have come in below the units allocated: on hand never goes below zero
  local oh = num(redis.call('HGET', k_pos(u[2]), 'oh:' .. u[1]))
  redis.call('HSET', k_pos(u[2]), 'oh:' .. u[1], math.max(0, oh - u[3]))
  record_move(u[1], u[2], -u[3])
end
for _, u in ipairs(restock) do
  if redis.call('HEXISTS', k_pos(u[2]), 'ss:' .. u[1]) == 0 then
    redis.call('HSET', k_pos(u[2]), 'ss:' .. u[1], 0)
  end
  redis.call('HINCRBY', k_pos(u[2]), 'oh:' .. u[1], u[3])
  record_move(u[1], u[2], u[3])
end
-- the orders waiting at a pickup counter, for the not-collected sweep
if ARGV[7] == 'ready_for_pickup' then
  redis.call('ZADD', P .. 'ready', NOW_SCORE, order_id)
elseif found[1] == 'ready_for_pickup' then
  redis.call('ZREM', P .. 'ready', order_id)
end
for _, b in ipairs(promises) do
  if redis.call('HINCRBY', K_BOSUM, b[1], b[4]) <= 0 then redis.call('HDEL', K_BOSUM, b[1]) end
  if b[5] <= 0 then
    redis.call('ZREM', k_bo(b[1]), order_id)
  elseif b[4] > 0 then
    redis.call('ZADD', k_bo(b[1]), 'NX', redis.call('INCR', P .. 'boseq'), order_id)
  end
end
local created_at = ARGV[14] ~= '' and ARGV[14] or NOW_T
redis.call('HSET', key, 'state', ARGV[7], 'version', expected + 1, 'created_at', created_at,
  'updated_at', NOW_T, 'lines', ARGV[8], 'alloc', ARGV[9], 'shipped', ARGV[10],
  'returned', ARGV[11], 'released', ARGV[12], 'doc', ARGV[13], 'backordered', backordered)
local resource = ARGV[ti + 1 + tonumber(ARGV[ti])]
for j = 0, tonumber(ARGV[i]) - 1 do
  emit(ARGV[i + 1 + 2 * j], order_id, ARGV[i + 2 + 2 * j], true, resource)
end

local terms = {}
for j = 1, tonumber(ARGV[ti]) do terms[j] = ARGV[ti + j] end
index_order(order_id, created_at, terms)
return stored_reply('order', order_id, key)
