-- search_orders (read only): the orders with every search term, newest first by
-- (created_at, id), scanning the smallest of the terms' sets ("ocreated" without terms) and
-- probing the others. ARGV[1] limit; [2] most entries to look through; [3] created_at lower
-- bound ('-inf' or inclusive score); [4], [5] the scan's start, exclusive: score and id
-- ('' for none: from the newest); [6] count of terms, then the terms.
-- Returns {'ok', more ('1'/'0'), cursor score, cursor id, count, then per order: id,
-- number of hash fields and values, the fields and values}.
local limit, budget, lo = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local top_s, top_id = ARGV[4], ARGV[5]
local sets = {}
for j = 1, tonumber(ARGV[6]) do sets[j] = P .. 'oidx:' .. ARGV[6 + j] end
local driver, at, fewest = P .. 'ocreated', 0, nil
for j, key in ipairs(sets) do
  local n = redis.call('ZCARD', key)
  if fewest == nil or n < fewest then driver, at, fewest = key, j, n end
end
local top = top_s == '' and '+inf' or top_s
local top_n = tonumber(top_s)

-- one more than the limit is looked for, so that the last page says it is the last
local found, found_s, scanned, offset, last_s, last_id = {}, {}, 0, 0, '', ''
local PAGE = 200
local want = limit + 1
while #found < want and scanned < budget do
  local page = redis.call('ZREVRANGEBYSCORE', driver, top, lo, 'WITHSCORES', 'LIMIT', offset,
    PAGE)
  offset = offset + #page / 2
  for k = 1, #page, 2 do
    local id, s = page[k], page[k + 1]
    -- entries at the start's score with an id not below it came before the start
    if not (top_n and tonumber(s) == top_n and not bytes_lt(id, top_id)) then
      scanned = scanned + 1
      last_s, last_id = s, id
      local all = true
      for j, key in ipairs(sets) do
        if j ~= at and not redis.call('ZSCORE', key, id) then all = false; break end
      end
      if all then
        found[#found + 1] = id
        found_s[#found] = s
      end
      if #found == want or scanned >= budget then break end
    end
  end
  if #page < 2 * PAGE then break end
end
local more = '0'
if #found == want then
  found[want] = nil
  more, last_s, last_id = '1', found_s[limit], found[limit]
elseif scanned >= budget then
  more = '1'
end

local out = {'ok', NOW_T, more, last_s, last_id, tostring(#found)}
for _, id in ipairs(found) do
  local h = redis.call('HGETALL', k_order(id))
  out[#out + 1] = id
  out[#out + 1] = tostring(#h)
  for _, v in ipairs(h) do out[#out + 1] = v end
end
return out
