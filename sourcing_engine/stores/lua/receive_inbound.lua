-- receive_inbound: ARGV[4] inbound id, [5] qty. Its node's on hand rises by qty, its open
-- quantity falls by qty (the record goes once nothing is open). Returns the position after.
local id, qty = ARGV[4], tonumber(ARGV[5])

local e = idem_check()
if e then return e end
local rec, err = inbound_open(id, qty)
if err then return err end
local node, sku = rec.node, rec.sku

-- writes
local oh, ss, al, rs = inbound_arrive(id, rec, qty)
local r = {'ok', NOW_T, node, sku, tostring(oh), tostring(ss), tostring(al), tostring(rs)}
if IDEM_KEY ~= '' then
  idem_store(cjson.encode({'position', NOW_T, node, sku, r[5], r[6], r[7], r[8]}))
end
return r
