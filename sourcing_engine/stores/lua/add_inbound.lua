-- add_inbound (upsert by id): ARGV[4] count, then (id, sku, record JSON, resource JSON)
-- quadruples. Per SKU a set "inb:<sku>" of ids indexes hash "inbound". An event
-- `inbound.created` / `inbound.updated`, subject "inbound:<id>", for each record that
-- changes (the last of one id in the call counts).
-- Refused whole ('invalid') if orders are backordered on an inbound (hash bosum) and the
-- upsert leaves fewer open units than they wait for, or moves it to another node or SKU.
local n, last = tonumber(ARGV[4]), {}
for j = 0, n - 1 do last[ARGV[5 + 4 * j]] = j end
for j = 0, n - 1 do
  local id, rec = ARGV[5 + 4 * j], cjson.decode(ARGV[7 + 4 * j])
  local promised = num(redis.call('HGET', K_BOSUM, id))
  if promised > 0 then
    local old = cjson.decode(redis.call('HGET', K_INBOUND, id))
    if old.node ~= rec.node or old.sku ~= rec.sku or tonumber(rec.qty) < promised then
      return fail('invalid', 'inbound ' .. id .. ': orders are backordered on ' .. promised ..
        ' of ' .. old.sku .. ' at ' .. old.node .. '; expected the same node and SKU and at ' ..
        'least ' .. promised .. ' open units (cancel their backorders first)')
    end
  end
end
local function same(a, b)
  return a.node == b.node and a.sku == b.sku and tonumber(a.qty) == tonumber(b.qty) and
    a.expected_at == b.expected_at
end
for j = 0, n - 1 do
  local id, sku, rec = ARGV[5 + 4 * j], ARGV[6 + 4 * j], ARGV[7 + 4 * j]
  local old = redis.call('HGET', K_INBOUND, id)
  if last[id] == j and not (old and same(cjson.decode(old), cjson.decode(rec))) then
    local what = old and 'updated' or 'created'
    local resource = string.sub(ARGV[8 + 4 * j], 1, -2) .. ',"backordered":' ..
      num(redis.call('HGET', K_BOSUM, id)) .. '}'
    emit('inbound.' .. what, 'inbound:' .. id, '{}', false, resource)
  end
  if old then redis.call('SREM', k_inb(cjson.decode(old).sku), id) end
  redis.call('HSET', K_INBOUND, id, rec)
  redis.call('SADD', k_inb(sku), id)
end
return {'ok', NOW_T}
