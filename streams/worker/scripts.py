"""Lua scripts that let Redis loop over a whole batch: one call per batch on a single node,
one call per state slot of the batch on a Redis Cluster.

Every key starts with the tag of its customer's state slot (``{nba:c17}``, see
streams.worker.layout); each event carries its slot and the script builds the tag. On a
Redis Cluster the worker groups a call's events by slot, so every key one call touches is in
the hash slot of the tag it declares in KEYS[1]: Redis allows a script without flags to
touch such undeclared keys of the declared key's hash slot (tested on a real cluster).
"""

# A customer's contact history is one string, its entries oldest first, one per line (see
# rules/history.py): read with one GET, added to with one APPEND. A key still holding the
# list an earlier version wrote (newest first) is read, and on its first write rewritten,
# as such a string: the history survives the upgrade.
LIST_AS_STRING = """
local function list_as_string(hkey)
  local l = redis.call('LRANGE', hkey, 0, -1)
  local parts = {}
  for i = #l, 1, -1 do parts[#parts + 1] = l[i] .. '\\n' end
  return table.concat(parts)
end
"""

# INGEST marks each event_id as seen (SET NX, the dedupe), bumps the MoT bucket counters
# only the first time, and returns what arbitration needs. The bumps of the whole call are
# summed and written under the call's own tag (KEYS[1]): COUNTS only ever answers their sum
# over every state slot, so which slot holds a count does not matter, and one HINCRBY per
# field per call costs Redis less than one per field per state slot of the batch (on a Redis
# Cluster a call holds one slot's events, so there it is the events' own tag).
# ARGV: minute, hour, day, dedupe_ttl_s, then one JSON array of [event_id, customer_id,
# [fields], slot] (one argument for the batch: packing arguments one by one cost more in
# Python), then the tags' common start (``{nba:c``).
# An event that may be a MoT's positive outcome (rules.outcomes) carries two more elements:
# [[mot, within_ms], ...] and its decision time in ms; the customer's watched decisions for
# those MoTs (RECORD's watch, `:o:` hash, field mot, value "decided_ms|summary") made at most
# within_ms before it are returned (one HMGET for them all), to be joined as conversions
# (JOIN dedupes them).
# Reply per event: {1, history, reached} for a first sighting (or {3, history, reached}: a
# crashed earlier attempt that stored no decision, decided again and counted once),
# {2, stored decision} for a repeat. The history is the stored string ('' when there is
# none); reached the summaries of the decisions it converts (usually none).
INGEST = LIST_AS_STRING + """
local minute, hour, day, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local start = ARGV[6]
local out, bumps = {}, {}  -- bumps: field -> count, the call's first sightings
local function history(tag, cust)
  local hkey = tag .. ':h:' .. cust
  local h = redis.pcall('GET', hkey)
  if type(h) == 'table' then return list_as_string(hkey) end  -- WRONGTYPE: a list
  return h or ''
end
local function reach(tag, cust, watched, at)
  local got = {}
  if not watched then return got end
  local mots = {}
  for i, w in ipairs(watched) do mots[i] = w[1] end
  local vals = redis.call('HMGET', tag .. ':o:' .. cust, unpack(mots))
  for i, w in ipairs(watched) do
    local v = vals[i]
    if v then
      local sep = string.find(v, '|', 1, true)
      local decided = tonumber(string.sub(v, 1, sep - 1))
      if decided <= at and at - decided <= w[2] then got[#got + 1] = string.sub(v, sep + 1) end
    end
  end
  return got
end
for _, ev in ipairs(cjson.decode(ARGV[5])) do
  local eid, cust, fields = ev[1], ev[2], ev[3]
  local tag = start .. ev[4] .. '}'
  local ekey = tag .. ':e:' .. eid
  if redis.call('SET', ekey, '', 'NX', 'EX', ttl) then
    for _, f in ipairs(fields) do bumps[f] = (bumps[f] or 0) + 1 end
    out[#out + 1] = {1, history(tag, cust), reach(tag, cust, ev[5], ev[6])}
  else
    local stored = redis.call('GET', ekey)
    if stored and stored ~= '' then
      out[#out + 1] = {2, stored}
    else
      out[#out + 1] = {3, history(tag, cust), reach(tag, cust, ev[5], ev[6])}
    end
  end
end
if next(bumps) then
  local tag = KEYS[1]
  local km, kh, kd = tag .. ':cm:' .. minute, tag .. ':ch:' .. hour, tag .. ':cd:' .. day
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

# RECORD stores each decision under its event_id and writes the contact history.
# ARGV: dedupe_ttl_s, retain_ms, the tags' common start, a JSON array of [event_id,
# customer_id, mode, text, slot] (mode 0: no history to write, 1: APPEND text, 2: SET text,
# the history rewritten, optionally a watch [mot, summary, decided_ms, window_ms]: a decision
# whose MoT has positive outcomes, kept in the customer's `:o:` hash for INGEST's reach), then
# the decisions, one argument each in the same order (kept as bytes: no escaping into JSON).
RECORD = LIST_AS_STRING + """
local ttl, retain, start = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
for i, ev in ipairs(cjson.decode(ARGV[4])) do
  local eid, cust, mode, text = ev[1], ev[2], ev[3], ev[4]
  local tag = start .. ev[5] .. '}'
  redis.call('SET', tag .. ':e:' .. eid, ARGV[4 + i], 'EX', ttl)
  if mode == 1 then
    local hkey = tag .. ':h:' .. cust
    if type(redis.pcall('APPEND', hkey, text)) == 'table' then  -- WRONGTYPE: a list
      redis.call('SET', hkey, list_as_string(hkey) .. text)
    end
    redis.call('PEXPIRE', hkey, retain)
  elseif mode == 2 then
    redis.call('SET', tag .. ':h:' .. cust, text, 'PX', retain)
  end
  local w = ev[6]
  if w then
    local okey = tag .. ':o:' .. cust
    redis.call('HSET', okey, w[1], string.format('%d', w[3]) .. '|' .. w[2])
    if redis.call('PTTL', okey) < w[4] then redis.call('PEXPIRE', okey, w[4]) end
  end
end
return 1
"""

# COUNTS sums state slots' MoT buckets over the rolling windows.
# ARGV: minute, hour, day, the tags' common start, then the slots (one on a Redis Cluster).
# Reply: flat {field, c5m, c1h, c24h, c30d, ...}.
COUNTS = """
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
for i = 5, #ARGV do
  local tag = ARGV[4] .. ARGV[i] .. '}'
  for m = minute - 59, minute do
    if m > minute - 5 then add(tag .. ':cm:' .. m, 2, 1) else add(tag .. ':cm:' .. m, 2) end
  end
  for h = hour - 23, hour do add(tag .. ':ch:' .. h, 3) end
  for d = day - 29, day do add(tag .. ':cd:' .. d, 4) end
end
local out = {}
for f, s in pairs(sums) do
  out[#out + 1] = f
  for k = 1, 4 do out[#out + 1] = s[k] end
end
return out
"""

# The join of responses to decisions (streams/worker/responses.py). Keys carry a join tag
# derived from the decision_id (``{nba:j7}``), since a response names its decision, not the
# partition its event came through.
# INDEX remembers each decision with an action (control: its would-be action) for the dedupe
# TTL and counts it once per experiment, arm, program and action.
# ARGV: dedupe_ttl_s, then one summary per decision, the JSON array [decision_id, experiment,
# arm, program, action, watch_ms] (watch_ms: how long its MoT's positive outcome may still
# convert it, 0 if none), stored as given. The counts are summed over the call first: one
# HINCRBY per experiment and field, one EXPIRE per experiment.
INDEX = """
local tag, ttl = KEYS[1], tonumber(ARGV[1])
local counts = {}  -- experiment -> field -> decisions
for i = 2, #ARGV do
  local summary = ARGV[i]
  local d = cjson.decode(summary)
  if redis.call('SET', tag .. ':d:' .. d[1], summary, 'NX', 'EX', ttl) then
    local c = counts[d[2]]
    if not c then c = {}; counts[d[2]] = c end
    local f = 'decisions|' .. d[3] .. '|' .. d[4] .. '|' .. d[5]
    c[f] = (c[f] or 0) + 1
  end
end
for exp, c in pairs(counts) do
  local x = tag .. ':x:' .. exp
  for f, n in pairs(c) do redis.call('HINCRBY', x, f, n) end
  redis.call('EXPIRE', x, 7776000)
end
return 1
"""

# JOIN looks each response's decision up and counts the response once per decision and kind.
# ARGV: dedupe_ttl_s, then a JSON array of [decision_id, response, value or false, summary or
# false]. A summary (INGEST's reach: the MoT's positive outcome arrived as an event) stands in
# for the indexed one, which may have expired, and counts `converted_event` too. A response is
# remembered as long as its decision may still be converted by an event: counted once either way.
# Reply per response: 0 unknown or expired decision, 2 a repeat, else the decision's summary.
JOIN = """
local tag, ttl = KEYS[1], tonumber(ARGV[1])
local out = {}
for i, r in ipairs(cjson.decode(ARGV[2])) do
  local summary = redis.call('GET', tag .. ':d:' .. r[1]) or r[4]
  local d = summary and cjson.decode(summary)
  local keep = d and math.max(ttl, math.ceil((tonumber(d[6]) or 0) / 1000))
  if not summary then
    out[i] = 0
  elseif not redis.call('SET', tag .. ':r:' .. r[1] .. ':' .. r[2], '', 'NX', 'EX', keep) then
    out[i] = 2
  else
    local x = tag .. ':x:' .. d[2]
    local f = d[3] .. '|' .. d[4] .. '|' .. d[5]
    redis.call('HINCRBY', x, r[2] .. '|' .. f, 1)
    if r[4] then redis.call('HINCRBY', x, 'converted_event|' .. f, 1) end
    if r[3] then redis.call('HINCRBYFLOAT', x, 'value|' .. f, r[3]) end
    redis.call('EXPIRE', x, 7776000)
    out[i] = summary
  end
end
return out
"""
