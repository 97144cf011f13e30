-- add_inbound (upsert by id, reference data: no events): ARGV[4] count, then (id, sku,
-- record JSON) triples. Per SKU a set "inb:<sku>" of ids indexes hash "inbound".
local n = tonumber(ARGV[4])
for j = 0, n - 1 do
  local id, sku, rec = ARGV[5 + 3 * j], ARGV[6 + 3 * j], ARGV[7 + 3 * j]
  local old = redis.call('HGET', K_INBOUND, id)
  if old then redis.call('SREM', k_inb(cjson.decode(old).sku), id) end
  redis.call('HSET', K_INBOUND, id, rec)
  redis.call('SADD', k_inb(sku), id)
end
return {'ok', NOW_T}
