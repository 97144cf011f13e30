-- Shared helpers, prepended to every script of the Redis store (see redis.py for the layout).
-- KEYS[1] is the store's event counter "se:{<namespace>}:seq"; every other key is built from
-- its prefix, so all of them carry the same hash tag and live in one Cluster slot.
-- ARGV[1..3] of mutating scripts: idempotency key ('' for none), request hash, and how long
-- a completed key keeps its result, in seconds. Operation arguments start at ARGV[4].
-- Replies: {'ok', now, ...}, {'err', kind, message, extra}, or {'done', result} when the key
-- completed before with this request (nothing is applied; result is what it stored).
-- Numbers travel as strings because Redis truncates Lua numbers to integers.

local P = string.sub(KEYS[1], 1, -4)
local K_SEQ = KEYS[1]
local K_EVENTS = P .. 'events'
local K_HOLD_EXP = P .. 'hold_exp'
local K_NODES = P .. 'nodes'
local K_ITEMS = P .. 'items'
local K_INBOUND = P .. 'inbound'
local K_APIKEYS = P .. 'apikeys'
local function k_pos(sku) return P .. 'pos:' .. sku end
local function k_holds(sku) return P .. 'hz:' .. sku end
local function k_res(id) return P .. 'res:' .. id end
local function k_order(id) return P .. 'order:' .. id end
local function k_hist(id) return P .. 'hist:' .. id end
local function k_idem(key) return P .. 'idem:' .. key end
local function k_inb(sku) return P .. 'inb:' .. sku end
-- backorders: units promised per inbound, and per inbound the orders waiting, oldest first
local K_BOSUM = P .. 'bosum'
local function k_bo(inbound) return P .. 'bo:' .. inbound end

-- One clock reading per script: the server's, so every replica agrees on expiry, plus the
-- store's clock shift (seconds, absent: none; set by Store.shift_clock, which tests use
-- instead of sleeping). Times are kept to the microsecond as "%.6f" strings (cjson would
-- round them to 14 digits), and NOW is that same rounded value, so every expiry decision
-- matches the times callers are shown.
local function fmt_t(t) return string.format('%.6f', t) end
local NOW_T
do
  local t = redis.call('TIME')
  local shift = tonumber(redis.call('GET', P .. 'clock_shift')) or 0
  NOW_T = fmt_t(tonumber(t[1]) + tonumber(t[2]) / 1000000 + shift)
end
local NOW = tonumber(NOW_T)
local NOW_SCORE = string.format('%.17g', NOW)

local function fail(kind, message, extra)
  return {'err', kind, message, extra or ''}
end

local function num(s) return tonumber(s) or 0 end

-- Byte-wise string order (Lua's < follows the server's locale): UTF-8 code point order.
local function bytes_lt(a, b)
  if a == b then return false end
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

-- A copy of a unit list sorted by (node, sku), the order every reply and event uses.
local function sorted_units(list)
  local out = {}
  for i, u in ipairs(list) do out[i] = {u[1], u[2], u[3]} end
  table.sort(out, function(a, b)
    if a[1] ~= b[1] then return bytes_lt(a[1], b[1]) end
    return bytes_lt(a[2], b[2])
  end)
  return out
end

-- JSON of a list of {node, sku, qty} (cjson would write an empty list as {}).
local function enc_list(list)
  if #list == 0 then return '[]' end
  return cjson.encode(list)
end

-- Lines ARGV[i], ARGV[i+1], ...: count, then (node, sku, qty) triples. Duplicate (node, sku)
-- lines are summed, first-seen order kept. Returns the list and the index after it.
local function read_units(i)
  local n = tonumber(ARGV[i])
  local list, at = {}, {}
  for j = 0, n - 1 do
    local node, sku, qty = ARGV[i + 1 + 3 * j], ARGV[i + 2 + 3 * j], tonumber(ARGV[i + 3 + 3 * j])
    local id = node .. '\0' .. sku
    if at[id] then
      list[at[id]][3] = list[at[id]][3] + qty
    else
      list[#list + 1] = {node, sku, qty}
      at[id] = #list
    end
  end
  return list, i + 1 + 3 * n
end

-- Holds: per SKU a sorted set "hz:<sku>" scored by expires_at, member JSON [hold, node, qty];
-- field "rs:<node>" of "pos:<sku>" counts the units of members still in the set. A member
-- whose score <= NOW is expired and never counts: reserved = rs - expired members' units.
local function hold_member(hold_id, node, qty) return cjson.encode({hold_id, node, qty}) end

local function expired_by_node(sku)
  local out = {}
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', k_holds(sku), '-inf', NOW_SCORE)) do
    local h = cjson.decode(m)
    out[h[2]] = (out[h[2]] or 0) + h[3]
  end
  return out
end

-- Drop expired members from the counters (bookkeeping only: they already count for nothing).
local function settle(sku)
  local key = k_holds(sku)
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', key, '-inf', NOW_SCORE)) do
    local h = cjson.decode(m)
    redis.call('ZREM', key, m)
    redis.call('HINCRBY', k_pos(sku), 'rs:' .. h[2], -h[3])
  end
end

-- Position of (node, sku) now: on_hand, safety_stock, allocated, reserved (unexpired).
-- `expired` caches expired_by_node per SKU within one script.
local function position(node, sku, expired)
  local v = redis.call('HMGET', k_pos(sku), 'oh:' .. node, 'ss:' .. node, 'al:' .. node,
    'rs:' .. node)
  if expired[sku] == nil then expired[sku] = expired_by_node(sku) end
  return num(v[1]), num(v[2]), num(v[3]), num(v[4]) - (expired[sku][node] or 0)
end

-- Every short line of `units` (summed), with `freed` units (node\0sku -> qty) counted as
-- no longer allocated (a reallocation frees them in the same step).
local function shortages(units, freed)
  local short, expired = {}, {}
  for _, u in ipairs(units) do
    local oh, ss, al, rs = position(u[1], u[2], expired)
    al = al - ((freed and freed[u[1] .. '\0' .. u[2]]) or 0)
    local avail = math.max(0, oh - ss - al - rs)
    if u[3] > avail then
      short[#short + 1] = {sku = u[2], nodes = {u[1]}, requested = u[3], available = avail}
    end
  end
  return short
end

local function insufficient(short)
  return fail('insufficient', 'insufficient stock', cjson.encode(short))
end

-- Units in event data: [{"node", "sku", "qty"}, ...] sorted by (node, sku).
local function units_json(list)
  local parts = {}
  for i, u in ipairs(sorted_units(list)) do
    parts[i] = string.format('{"node":%s,"sku":%s,"qty":%d}', cjson.encode(u[1]),
      cjson.encode(u[2]), u[3])
  end
  return '[' .. table.concat(parts, ',') .. ']'
end

-- Events: global seq by INCR, the event JSON in sorted set "events" scored by seq; order
-- events also in list "hist:<order id>". `data` is a JSON object string, `resource` the
-- changed record after the change as JSON (sourcing_engine/resources.py; nil: none, which
-- only an event type without a resource function yet should give).
local function emit(etype, subject, data, with_history, resource)
  local seq = redis.call('INCR', K_SEQ)
  local ev = string.format('{"seq":%d,"at":%s,"type":%s,"subject":%s,"data":%s,"resource":%s}',
    seq, NOW_T, cjson.encode(etype), cjson.encode(subject), data, resource or 'null')
  redis.call('ZADD', K_EVENTS, seq, ev)
  if with_history then redis.call('RPUSH', k_hist(subject), ev) end
  return seq
end

-- Resources in events, the fields of sourcing_engine/resources.py: a position now, and a hold.
local function position_json(node, sku)
  local oh, ss, al, rs = position(node, sku, {})
  return string.format('{"node":%s,"sku":%s,"on_hand":%d,"safety_stock":%d,"reserved":%d,' ..
    '"allocated":%d,"available":%d,"oversold":%s}', cjson.encode(node), cjson.encode(sku), oh,
    ss, rs, al, math.max(0, oh - ss - al - rs), tostring(oh - ss < al + rs))
end

local function hold_json(id)
  local h = redis.call('HMGET', k_res(id), 'cart', 'units', 'created_at', 'expires_at', 'state',
    'order_id')
  local state = h[5]
  if state == 'active' and tonumber(h[4]) <= NOW then state = 'expired' end
  local order = (h[6] and h[6] ~= '') and cjson.encode(h[6]) or 'null'
  return string.format('{"id":%s,"cart":%s,"state":%s,"units":%s,"created_at":%s,' ..
    '"expires_at":%s,"order_id":%s}', cjson.encode(id), cjson.encode(h[1]), cjson.encode(state),
    units_json(cjson.decode(h[2])), h[3], h[4], order)
end

-- Idempotency: check before any write; store the operation's result with its effect. A key
-- is in flight (claimed by a caller for a lease) or done (with the result it keeps).
local IDEM_KEY, IDEM_HASH = ARGV[1], ARGV[2]
local function idem_check()
  if IDEM_KEY == nil or IDEM_KEY == '' then return nil end
  local r = redis.call('HMGET', k_idem(IDEM_KEY), 'state', 'hash', 'lease_until', 'result')
  if not r[1] or (r[1] == 'inflight' and num(r[3]) <= NOW) then return nil end
  if r[2] ~= IDEM_HASH then
    return fail('idempotency_mismatch', 'idempotency key ' .. IDEM_KEY ..
      ' was used before with another request')
  end
  if r[1] == 'done' then return {'done', r[4]} end
  return nil
end
local function idem_store(result)
  if IDEM_KEY == nil or IDEM_KEY == '' then return end
  local key = k_idem(IDEM_KEY)
  redis.call('DEL', key)
  redis.call('HSET', key, 'state', 'done', 'hash', IDEM_HASH, 'result', result)
  redis.call('EXPIRE', key, tonumber(ARGV[3]))
end

local function hash_reply(key)
  local r = {'ok', NOW_T}
  for _, v in ipairs(redis.call('HGETALL', key)) do r[#r + 1] = v end
  return r
end

-- A written record's reply, {'ok', now, field, value, ...} of the hash at `key`; with an
-- idempotency key, also kept as the key's result: JSON [kind, now, id, field, value, ...].
local function stored_reply(kind, id, key)
  local r = hash_reply(key)
  if IDEM_KEY ~= nil and IDEM_KEY ~= '' then
    local stored = {kind, NOW_T, id}
    for j = 3, #r do stored[#stored + 1] = r[j] end
    idem_store(cjson.encode(stored))
  end
  return r
end

-- Stock sync (stock_sync.py): every change of on hand is a movement, in zset
-- "mv:<node>/<sku>" scored by when it happened, member "<id>|<delta>" (id from "mvseq"),
-- kept MOVE_RETENTION_S (stock_sync.MOVEMENT_RETENTION_S); counts apply relative to them.
-- "cnt:<node>/<sku>": source -> "<as_of>|<sequence>" of its last count applied there.
local MOVE_RETENTION_S = 7 * 24 * 3600
local function k_mv(node, sku) return P .. 'mv:' .. node .. '/' .. sku end
local function k_cnt(node, sku) return P .. 'cnt:' .. node .. '/' .. sku end
local function record_move(node, sku, delta, at)
  if delta == 0 then return end
  local key = k_mv(node, sku)
  local id = redis.call('INCR', P .. 'mvseq')
  redis.call('ZADD', key, string.format('%.17g', at or NOW), id .. '|' .. delta)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. string.format('%.17g', NOW - MOVE_RETENTION_S))
end
local function moved_since(node, sku, at)
  local total = 0
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', k_mv(node, sku), '(' .. string.format('%.17g', at),
      '+inf')) do
    total = total + tonumber(string.match(m, '|(-?%d+)$'))
  end
  return total
end

-- Inbound receipts, checked before any write (inbound_open) then written (inbound_arrive):
-- the open quantity falls by qty (the record goes once none is open), the node's on hand
-- rises by qty; event inbound.received. inbound_open returns the record, or a failure.
local function inbound_open(id, qty)
  local raw = redis.call('HGET', K_INBOUND, id)
  if not raw then
    return nil, fail('not_found', 'inbound ' .. id .. ': unknown, or received in full already')
  end
  local rec = cjson.decode(raw)
  if qty > tonumber(rec.qty) then
    return nil, fail('invalid', 'receipt of inbound ' .. id .. ': ' .. qty .. ' units, but ' ..
      rec.qty .. ' are open')
  end
  return rec, nil
end

-- Returns the position after: on hand, safety stock, allocated, reserved.
local function inbound_arrive(id, rec, qty)
  local open = tonumber(rec.qty)
  local node, sku = rec.node, rec.sku
  local oh, ss, al, rs = position(node, sku, {})
  if qty == open then
    redis.call('HDEL', K_INBOUND, id)
    redis.call('SREM', k_inb(sku), id)
  else
    rec.qty = open - qty
    redis.call('HSET', K_INBOUND, id, cjson.encode(rec))
  end
  settle(sku)
  redis.call('HSET', k_pos(sku), 'oh:' .. node, oh + qty, 'ss:' .. node, ss)
  record_move(node, sku, qty)
  emit('inbound.received', 'stock:' .. node .. '/' .. sku, '{"inbound":' .. cjson.encode(id) ..
    ',"qty":' .. qty .. ',"open":' .. (open - qty) .. ',"on_hand":' .. (oh + qty) .. '}', false,
    position_json(node, sku))
  return oh + qty, ss, al, rs
end

-- The order search index (sourcing_engine/order_search.py): zset "oidx:<term>" per term and
-- "ocreated" for every order, each scored by created_at; the terms of the order's last write
-- kept in its hash (field "terms"), so that a step drops the terms it ends. Called by every
-- script that writes an order (write_order, and receive_inbound's backorder fills).
local function index_order(order_id, created_at, terms)
  local key = k_order(order_id)
  local now_terms = {}
  for _, t in ipairs(terms) do now_terms[t] = true end
  for _, t in ipairs(cjson.decode(redis.call('HGET', key, 'terms') or '[]')) do
    if not now_terms[t] then redis.call('ZREM', P .. 'oidx:' .. t, order_id) end
  end
  for _, t in ipairs(terms) do redis.call('ZADD', P .. 'oidx:' .. t, created_at, order_id) end
  redis.call('ZADD', P .. 'ocreated', created_at, order_id)
  redis.call('HSET', key, 'terms', enc_list(terms))
end

-- A bulk stock call's reply {'ok', now, (node, sku, oh, ss, al, rs) per entry}; with an
-- idempotency key it is also the key's result ['positions', now, ...].
local function add_position(r, node, sku, oh, ss, al, rs)
  for _, v in ipairs({node, sku, tostring(oh), tostring(ss), tostring(al), tostring(rs)}) do
    r[#r + 1] = v
  end
end
local function positions_reply(r)
  if IDEM_KEY ~= '' then
    local stored = {'positions', NOW_T}
    for j = 3, #r do stored[#stored + 1] = r[j] end
    idem_store(cjson.encode(stored))
  end
  return r
end
