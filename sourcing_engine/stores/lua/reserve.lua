-- reserve: ARGV[4] hold id, [5] cart, [6] ttl seconds, [7] document JSON, [8..] units.
local id, cart, ttl, doc = ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[7]
local units = read_units(8)

local e = idem_check()
if e then return e end
if redis.call('EXISTS', k_res(id)) == 1 then
  return fail('conflict', 'reservation ' .. id .. ' already exists')
end
local short = shortages(units)
if #short > 0 then return insufficient(short) end

-- writes
local exp_t = fmt_t(NOW + ttl)
local settled = {}
for _, u in ipairs(units) do
  if not settled[u[2]] then settle(u[2]); settled[u[2]] = true end
  redis.call('ZADD', k_holds(u[2]), exp_t, hold_member(id, u[1], u[3]))
  redis.call('HINCRBY', k_pos(u[2]), 'rs:' .. u[1], u[3])
end
redis.call('HSET', k_res(id), 'cart', cart, 'units', enc_list(sorted_units(units)),
  'created_at', NOW_T, 'expires_at', exp_t, 'state', 'active', 'order_id', '', 'doc', doc)
redis.call('ZADD', K_HOLD_EXP, exp_t, id)
emit('reservation.created', id, '{"cart":' .. cjson.encode(cart) .. ',"units":' ..
  units_json(units) .. ',"expires_at":' .. exp_t .. '}', false, hold_json(id))
return stored_reply('reservation', id, k_res(id))
