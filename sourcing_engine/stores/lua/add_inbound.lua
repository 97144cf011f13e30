-- add_inbound (upsert by id, reference data: no events): ARGV[4] count, then (id, sku,
-- record JSON) triples. Per SKU a set "inb:<sku>" of ids indexes hash "inbound".
-- Refused whole ('invalid') if orders are backordered on an inbound (hash bosum) and the
-- upsert leaves fewer open units than they wait for, or moves it to another node or SKU.
local n = tonumber(ARGV[4])
for j = 0, n - 1 do
  local id, rec = ARGV[5 + 3 * j], cjson.decode(ARGV[7 + 3 * j])
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
for j = 0, n - 1 do
  local id, sku, rec = ARGV[5 + 3 * j], ARGV[6 + 3 * j], ARGV[7 + 3 * j]
  local old = redis.call('HGET', K_INBOUND, id)
  if old then redis.call('SREM', k_inb(cjson.decode(old).sku), id) end
  redis.call('HSET', K_INBOUND, id, rec)
  redis.call('SADD', k_inb(sku), id)
end
return {'ok', NOW_T}
