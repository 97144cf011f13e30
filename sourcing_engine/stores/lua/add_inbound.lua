-- add_inbound (upsert by id): ARGV[4] count, then (id, sku, record JSON, resource JSON)
-- quadruples. Per SKU a set "inb:<sku>" of ids indexes hash "inbound". An event
-- `inbound.created` / `inbound.updated`, subject "inbound:<id>", for each record that
-- changes (the last of one id in the call counts).
local n, last = tonumber(ARGV[4]), {}
for j = 0, n - 1 do last[ARGV[5 + 4 * j]] = j end
local function same(a, b)
  return a.node == b.node and a.sku == b.sku and tonumber(a.qty) == tonumber(b.qty) and
    a.expected_at == b.expected_at
end
for j = 0, n - 1 do
  local id, sku, rec = ARGV[5 + 4 * j], ARGV[6 + 4 * j], ARGV[7 + 4 * j]
  local old = redis.call('HGET', K_INBOUND, id)
  if last[id] == j and not (old and same(cjson.decode(old), cjson.decode(rec))) then
    local what = old and 'updated' or 'created'
    emit('inbound.' .. what, 'inbound:' .. id, '{}', false, ARGV[8 + 4 * j])
  end
  if old then redis.call('SREM', k_inb(cjson.decode(old).sku), id) end
  redis.call('HSET', K_INBOUND, id, rec)
  redis.call('SADD', k_inb(sku), id)
end
return {'ok', NOW_T}
