-- count_stock (stock_sync.py; judge_count in Lua): ARGV[4] reason, [5] how far as_of may be
-- ahead of NOW, [6] count n, then per count 7 fields: node, sku, on_hand, safety_stock ('':
-- keep), as_of ('': now), source ('': none), sequence ('': none). All or nothing: every
-- refused entry comes back as [index, kind, last as_of, last sequence] (kind 'entries').
-- Returns {'ok', now, (node, sku, oh, ss, al, rs) per count, in entry order}.
local reason, ahead, n = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])

local e = idem_check()
if e then return e end
local problems, plans = {}, {}
for j = 0, n - 1 do
  local b = 7 + 7 * j
  local node, sku, counted = ARGV[b], ARGV[b + 1], tonumber(ARGV[b + 2])
  local ss, as_of_t, source, seq_t = ARGV[b + 3], ARGV[b + 4], ARGV[b + 5], ARGV[b + 6]
  if as_of_t == '' then as_of_t = NOW_T end
  local as_of = tonumber(as_of_t)
  local last_t, last_seq_t = '', ''
  if source ~= '' then
    local raw = redis.call('HGET', k_cnt(node, sku), source)
    if raw then last_t, last_seq_t = string.match(raw, '^([^|]*)|(.*)$') end
  end
  local kind
  if as_of > NOW + ahead then
    kind = 'ahead'
  elseif as_of < NOW - MOVE_RETENTION_S then
    kind = 'too_old'
  elseif last_t ~= '' then
    if seq_t ~= '' and last_seq_t ~= '' then
      if tonumber(seq_t) <= tonumber(last_seq_t) then kind = 'stale' end
    elseif as_of <= tonumber(last_t) then
      kind = 'stale'
    end
  end
  if kind then
    problems[#problems + 1] = {j, kind, last_t, last_seq_t}
  else
    plans[#plans + 1] = {node, sku, counted, ss, as_of_t, source, seq_t,
      moved_since(node, sku, as_of)}
  end
end
if #problems > 0 then return fail('entries', 'counts', cjson.encode(problems)) end

-- writes
local r = {'ok', NOW_T}
for _, p in ipairs(plans) do
  local node, sku, counted, ss, as_of_t, source, seq_t, moved = unpack(p)
  local oh0, ss0, al, rs = position(node, sku, {})
  local oh = math.max(0, counted + moved)
  local ss_n = (ss == '') and ss0 or tonumber(ss)
  settle(sku)
  redis.call('HSET', k_pos(sku), 'oh:' .. node, oh, 'ss:' .. node, ss_n)
  -- at the moment the count describes: a later count from before then sees it
  record_move(node, sku, oh - oh0, tonumber(as_of_t))
  if source ~= '' then redis.call('HSET', k_cnt(node, sku), source, as_of_t .. '|' .. seq_t) end
  emit('stock.counted', 'stock:' .. node .. '/' .. sku, string.format(
    '{"counted":%d,"as_of":%s,"source":%s,"sequence":%s,"moved_since":%d,"correction":%d,' ..
    '"on_hand":%d,"safety_stock":%d,"reason":%s}', counted, as_of_t,
    source == '' and 'null' or cjson.encode(source), seq_t == '' and 'null' or seq_t, moved,
    oh - oh0, oh, ss_n, cjson.encode(reason)), false, position_json(node, sku))
  add_position(r, node, sku, oh, ss_n, al, rs)
end
return positions_reply(r)
