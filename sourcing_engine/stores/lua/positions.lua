-- positions (read only): ARGV[1] count of SKUs, the SKUs, then count of nodes (0: every node
-- holding the SKU), the nodes. Returns {'ok', now, (node, sku, oh, ss, al, reserved)...}.
local n = tonumber(ARGV[1])
local m = tonumber(ARGV[n + 2])
local out = {'ok', NOW_T}
for j = 1, n do
  local sku = ARGV[1 + j]
  local nodes = {}
  if m > 0 then
    for k = 1, m do nodes[k] = ARGV[n + 2 + k] end
  else
    for _, f in ipairs(redis.call('HKEYS', k_pos(sku))) do
      if string.sub(f, 1, 3) == 'oh:' then nodes[#nodes + 1] = string.sub(f, 4) end
    end
    table.sort(nodes)
  end
  local expired = {}
  for _, node in ipairs(nodes) do
    if redis.call('HEXISTS', k_pos(sku), 'oh:' .. node) == 1 then
      local oh, ss, al, rs = position(node, sku, expired)
      out[#out + 1] = node
      out[#out + 1] = sku
      out[#out + 1] = tostring(oh)
      out[#out + 1] = tostring(ss)
      out[#out + 1] = tostring(al)
      out[#out + 1] = tostring(rs)
    end
  end
end
return out
