"""Lua scripts that let Redis loop over a whole batch: one call per partition per step.

Every key a call touches starts with the partition's hash tag (KEYS[1], e.g. ``{nba:p3}``),
so a Redis Cluster keeps them in one slot and the script stays legal there.
"""

# INGEST marks each event_id as seen (SET NX, the dedupe), bumps the MoT bucket counters
# only the first time, and returns what arbitration needs.
# ARGV: minute, hour, day, dedupe_ttl_s, then one JSON array of [event_id, customer_id,
# [fields]] (one argument for the batch: packing arguments one by one cost more in Python).
# Reply per event: {1, history...} for a first sighting (or a crashed earlier attempt that
# stored no decision: it is decided again, counted once), {2, stored decision} for a repeat.
INGEST = """
local tag = KEYS[1]
local minute, hour, day, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local km, kh, kd = tag .. ':cm:' .. minute, tag .. ':ch:' .. hour, tag .. ':cd:' .. day
local out, bumps, counted = {}, {}, false
for _, ev in ipairs(cjson.decode(ARGV[5])) do
  local eid, cust, fields = ev[1], ev[2], ev[3]
  local ekey = tag .. ':e:' .. eid
  if redis.call('SET', ekey, '', 'NX', 'EX', ttl) then
    for _, f in ipairs(fields) do
      bumps[f] = (bumps[f] or 0) + 1  -- summed first: one HINCRBY per field per batch
      counted = true
    end
    local h = redis.call('LRANGE', tag .. ':h:' .. cust, 0, -1)
    table.insert(h, 1, 1)
    out[#out + 1] = h
  else
    local stored = redis.call('GET', ekey)
    if stored and stored ~= '' then
      out[#out + 1] = {2, stored}
    else
      local h = redis.call('LRANGE', tag .. ':h:' .. cust, 0, -1)
      table.insert(h, 1, 3)
      out[#out + 1] = h
    end
  end
end
if counted then
  for f, n in pairs(bumps) do
    redis.call('HINCRBY', km, f, n)
    redis.call('HINCRBY', kh, f, n)
    redis.call('HINCRBY', kd, f, n)
  end
  redis.call('EXPIRE', km, 7200)
  redis.call('EXPIRE', kh, 93600)
  redis.call('EXPIRE', kd, 2764800)
end
return out
"""

# RECORD stores each decision under its event_id and appends the contact-history entries.
# ARGV: dedupe_ttl_s, retain_ms, max_entries, a JSON array of [event_id, customer_id,
# [entries]] (entries oldest first, so the list ends newest first), then the decisions, one
# argument each in the same order (kept as bytes: no escaping into JSON).
RECORD = """
local tag = KEYS[1]
local ttl, retain, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
for i, ev in ipairs(cjson.decode(ARGV[4])) do
  local eid, cust, entries = ev[1], ev[2], ev[3]
  redis.call('SET', tag .. ':e:' .. eid, ARGV[4 + i], 'EX', ttl)
  if #entries > 0 then
    local hkey = tag .. ':h:' .. cust
    -- One LPUSH for all (oldest first: the newest ends at the head); trimmed only when over.
    if redis.call('LPUSH', hkey, unpack(entries)) > cap then
      redis.call('LTRIM', hkey, 0, cap - 1)
    end
    redis.call('PEXPIRE', hkey, retain)
  end
end
return 1
"""

# COUNTS sums one partition's MoT buckets over the rolling windows.
# ARGV: minute, hour, day. Reply: flat {field, c5m, c1h, c24h, c30d, ...}.
COUNTS = """
local tag = KEYS[1]
local minute, hour, day = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local sums = {}
local function add(key, a, b)
  local kv = redis.call('HGETALL', key)
  for j = 1, #kv, 2 do
    local s = sums[kv[j]]
    if not s then s = {0, 0, 0, 0}; sums[kv[j]] = s end
    local v = tonumber(kv[j + 1])
    s[a] = s[a] + v
    if b then s[b] = s[b] + v end
  end
end
for m = minute - 59, minute do
  if m > minute - 5 then add(tag .. ':cm:' .. m, 2, 1) else add(tag .. ':cm:' .. m, 2) end
end
for h = hour - 23, hour do add(tag .. ':ch:' .. h, 3) end
for d = day - 29, day do add(tag .. ':cd:' .. d, 4) end
local out = {}
for f, s in pairs(sums) do
  out[#out + 1] = f
  for k = 1, 4 do out[#out + 1] = s[k] end
end
return out
"""
