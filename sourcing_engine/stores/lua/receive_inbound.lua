-- receive_inbound: ARGV[4] inbound id, [5] qty. Its node's on hand rises by qty, its open
-- quantity falls by qty (the record goes once nothing is open). Returns the position after.
-- Then the backorders the receipt fills, as `lifecycle.fill_backorders` computed them from
-- the orders read (oldest backorder first): count, then per order: id, version read, state,
-- allocations JSON, released JSON, backordered JSON, the filled (node, sku, qty), what it
-- still waits for on this inbound, its events (count, then (type, data) pairs) and its
-- capacity charges (count, then (node, day, shipments delta, units delta, shipments,
-- units) sextuples, applied unchecked: a receipt is never refused for capacity), its search
-- terms after the fill (count, then the terms) and its resource JSON after it. Written
-- only if every order is still at the version read and the units waiting on the inbound
-- are still ARGV[6] (else 'conflict': read them again; an order backordered meanwhile
-- would otherwise be left waiting for units this receipt brings).
local id, qty, seen = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local fills, at = {}, 8
for j = 1, tonumber(ARGV[7]) do
  local f = {id = ARGV[at], version = tonumber(ARGV[at + 1]), state = ARGV[at + 2],
    alloc = ARGV[at + 3], released = ARGV[at + 4], backordered = ARGV[at + 5],
    node = ARGV[at + 6], sku = ARGV[at + 7], qty = tonumber(ARGV[at + 8]),
    left = tonumber(ARGV[at + 9]), events = {}, caps = {}}
  at = at + 10
  for _ = 1, tonumber(ARGV[at]) do
    f.events[#f.events + 1] = {ARGV[at + 1], ARGV[at + 2]}
    at = at + 2
  end
  at = at + 1
  for _ = 1, tonumber(ARGV[at]) do
    f.caps[#f.caps + 1] = {ARGV[at + 1], ARGV[at + 2], tonumber(ARGV[at + 3]),
      tonumber(ARGV[at + 4]), ARGV[at + 5], tonumber(ARGV[at + 6])}
    at = at + 6
  end
  at = at + 1
  f.terms = {}
  for k = 1, tonumber(ARGV[at]) do f.terms[k] = ARGV[at + k] end
  at = at + 1 + #f.terms
  f.resource = ARGV[at]
  at = at + 1
  fills[j] = f
end

local e = idem_check()
if e then return e end
local rec, err = inbound_open(id, qty)
if err then return err end
local node, sku = rec.node, rec.sku
local open = tonumber(rec.qty)
local promised = num(redis.call('HGET', K_BOSUM, id))
if promised ~= seen then
  return fail('conflict', 'inbound ' .. id .. ': orders were backordered on it meanwhile')
end
local filled = 0
for _, f in ipairs(fills) do
  local v = redis.call('HGET', k_order(f.id), 'version')
  if tonumber(v) ~= f.version then
    return fail('conflict', 'order ' .. f.id .. ' changed while its backorder was filled')
  end
  filled = filled + f.qty
end
if filled > qty or promised - filled > open - qty then
  return fail('conflict', 'receipt of inbound ' .. id .. ': ' .. filled .. ' units filled, ' ..
    qty .. ' received, ' .. promised .. ' waiting')
end

-- writes
local oh, ss, al, rs = inbound_arrive(id, rec, qty)
for _, f in ipairs(fills) do
  local okey = k_order(f.id)
  redis.call('HINCRBY', k_pos(f.sku), 'al:' .. f.node, f.qty)
  if redis.call('HINCRBY', K_BOSUM, id, -f.qty) <= 0 then redis.call('HDEL', K_BOSUM, id) end
  if f.left <= 0 then redis.call('ZREM', k_bo(id), f.id) end
  for _, c in ipairs(f.caps) do
    local ckey = P .. 'cap:' .. c[2]
    if c[3] ~= 0 then redis.call('HINCRBY', ckey, 's:' .. c[1], c[3]) end
    if c[4] ~= 0 then redis.call('HINCRBY', ckey, 'u:' .. c[1], c[4]) end
    redis.call('HSET', P .. 'ocap:' .. f.id, c[1], c[2] .. '|' .. c[5] .. '|' .. c[6])
  end
  redis.call('HSET', okey, 'state', f.state, 'version', f.version + 1, 'updated_at', NOW_T,
    'alloc', f.alloc, 'released', f.released, 'backordered', f.backordered)
  for _, ev in ipairs(f.events) do emit(ev[1], f.id, ev[2], true, f.resource) end
  index_order(f.id, redis.call('HGET', okey, 'created_at'), f.terms)
  al = (f.node == node and f.sku == sku) and al + f.qty or al
end
local r = {'ok', NOW_T, node, sku, tostring(oh), tostring(ss), tostring(al), tostring(rs)}
if IDEM_KEY ~= '' then
  idem_store(cjson.encode({'position', NOW_T, node, sku, r[5], r[6], r[7], r[8]}))
end
return r
