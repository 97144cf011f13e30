-- upsert nodes or items (reference data): ARGV[4] 'nodes' or 'items', [5] count, then (id,
-- record JSON) pairs; the record JSON is also the resource of its event. An event
-- `node.created` / `node.updated` (`item.*`), subject "node:<id>" ("item:<sku>"), for each
-- record that changes (the last of one id in the call counts).
local tables = {nodes = {K_NODES, 'node'}, items = {K_ITEMS, 'item'}}
local key, family = tables[ARGV[4]][1], tables[ARGV[4]][2]
local n, last = tonumber(ARGV[5]), {}
for j = 0, n - 1 do last[ARGV[6 + 2 * j]] = j end
for j = 0, n - 1 do
  local id, rec = ARGV[6 + 2 * j], ARGV[7 + 2 * j]
  if last[id] == j then
    local old = redis.call('HGET', key, id)
    if old ~= rec then
      local what = old and 'updated' or 'created'
      emit(family .. '.' .. what, family .. ':' .. id, '{}', false, rec)
    end
  end
  redis.call('HSET', key, id, rec)
end
return {'ok', NOW_T}
