-- write_transfer: a new transfer or one step of a transfer, as `sourcing_engine.lifecycle`
-- computed it from the transfer as read, written only if it is still at that version.
-- ARGV[4] transfer id; [5] expected version (0: it must not exist yet); [6] the record
-- JSON (times and version left to this script); [7] expected_at as text ('' if none); then
-- the step's effects as unit lists (count, then node, sku, qty triples): reserve, free,
-- ship, in_transit, receive; then the events: count, then (type, data JSON) pairs; then the
-- transfer's resource JSON (resources.transfer; its events carry it).
-- Hash "transfer:<id>": rec, version, created_at, updated_at. A shipped transfer's units
-- are open inbound "transfer:<id>:<sku>" at the destination.
local transfer_id, expected, rec_json, expected_at = ARGV[4], tonumber(ARGV[5]), ARGV[6], ARGV[7]
local reserve, i = read_units(8)
local free, ship, in_transit, receive
free, i = read_units(i)
ship, i = read_units(i)
in_transit, i = read_units(i)
receive, i = read_units(i)

local e = idem_check()
if e then return e end
local key = P .. 'transfer:' .. transfer_id
local found = redis.call('HMGET', key, 'version', 'rec')
local function inbound_id(sku) return 'transfer:' .. transfer_id .. ':' .. sku end
if expected == 0 then
  if found[1] then
    return fail('conflict', 'transfer ' .. transfer_id .. ' already exists',
      cjson.decode(found[2]).state)
  end
else
  if not found[1] then return fail('not_found', 'transfer ' .. transfer_id .. ' not found') end
  if tonumber(found[1]) ~= expected then
    return fail('conflict', 'transfer ' .. transfer_id .. ': version is ' .. found[1] ..
      ', not ' .. expected, cjson.decode(found[2]).state)
  end
end
local short = shortages(reserve, {})
if #short > 0 then return insufficient(short) end
local arriving = {}
for j, u in ipairs(receive) do
  local rec, err = inbound_open(inbound_id(u[2]), u[3])
  if err then return err end
  arriving[j] = rec
end

-- writes
local settled = {}
for _, list in ipairs({reserve, free, ship}) do
  for _, u in ipairs(list) do
    if not settled[u[2]] then settle(u[2]); settled[u[2]] = true end
  end
end
for _, u in ipairs(free) do redis.call('HINCRBY', k_pos(u[2]), 'al:' .. u[1], -u[3]) end
for _, u in ipairs(reserve) do redis.call('HINCRBY', k_pos(u[2]), 'al:' .. u[1], u[3]) end
for _, u in ipairs(ship) do
  local oh = num(redis.call('HGET', k_pos(u[2]), 'oh:' .. u[1]))
  redis.call('HSET', k_pos(u[2]), 'oh:' .. u[1], math.max(0, oh - u[3]))
  record_move(u[1], u[2], -u[3])
end
for _, u in ipairs(in_transit) do
  local id = inbound_id(u[2])
  redis.call('HSET', K_INBOUND, id, string.format(
    '{"id":%s,"node":%s,"sku":%s,"qty":%d,"expected_at":%s}', cjson.encode(id),
    cjson.encode(u[1]), cjson.encode(u[2]), u[3], cjson.encode(expected_at)))
  redis.call('SADD', k_inb(u[2]), id)
end
for j, u in ipairs(receive) do inbound_arrive(inbound_id(u[2]), arriving[j], u[3]) end
local created_at = NOW_T
if found[1] then created_at = redis.call('HGET', key, 'created_at') end
redis.call('HSET', key, 'rec', rec_json, 'version', expected + 1, 'created_at', created_at,
  'updated_at', NOW_T)
local resource = ARGV[i + 1 + 2 * tonumber(ARGV[i])]
for j = 0, tonumber(ARGV[i]) - 1 do
  emit(ARGV[i + 1 + 2 * j], transfer_id, ARGV[i + 2 + 2 * j], false, resource)
end
return stored_reply('transfer', transfer_id, key)
