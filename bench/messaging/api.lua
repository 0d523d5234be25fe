-- wrk script of bench/messaging/api.sh (issue #12, messages per second through the API).
-- Every request is METHOD (default POST) with BODY (POST only) and the session's headers, to the
-- URL's path or, with PATHS, to those paths in turn; all from the environment:
--   METHOD, BODY, COOKIE, CSRF (X-CSRF-Token), ORIGIN, HOST (the Host header; the URL names
--   127.0.0.1), PATHS (space-separated; empty: the URL's path), EXPECT (a substring every good
--   answer's body holds, e.g. "notified":"sms"; empty: not checked), WANT_STATUS (default 201
--   for POST, 200 otherwise).
-- At the end it prints one JSON line to stdout: requests, seconds, rate of good answers (the
-- status wanted and, with EXPECT, the substring), latency p50/p90/p99/max in ms (every answer),
-- and the errors wrk counts (connect, read, write, status >= 400, timeout) plus answers that
-- lacked EXPECT.
local method = os.getenv("METHOD") or "POST"
local body = os.getenv("BODY") or ""
local expect = os.getenv("EXPECT") or ""
local want = tonumber(os.getenv("WANT_STATUS") or (method == "POST" and "201" or "200"))

wrk.method = method
wrk.headers["Host"] = os.getenv("HOST")
wrk.headers["Cookie"] = os.getenv("COOKIE") or ""
wrk.headers["Accept"] = "application/json"
if method ~= "GET" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-CSRF-Token"] = os.getenv("CSRF") or ""
  wrk.headers["Origin"] = os.getenv("ORIGIN") or ""
end

local paths = {}
for p in string.gmatch(os.getenv("PATHS") or "", "%S+") do
  table.insert(paths, p)
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

local next_path = 0
if #paths > 0 then
  function request()
    next_path = next_path % #paths + 1
    return wrk.format(nil, paths[next_path])
  end
end

function init(args)
  next_path = math.random(#paths > 0 and #paths or 1) - 1
  good = 0
  bad = 0
  statuses = {}
end

function response(status, headers, resp)
  statuses[status] = (statuses[status] or 0) + 1
  if status == want and (expect == "" or (resp and string.find(resp, expect, 1, true))) then
    good = good + 1
  else
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local good_total, bad_total = 0, 0
  local codes = {}
  for _, t in ipairs(threads) do
    good_total = good_total + t:get("good")
    bad_total = bad_total + t:get("bad")
    for k, v in pairs(t:get("statuses")) do
      codes[k] = (codes[k] or 0) + v
    end
  end
  local code_list = {}
  for k, v in pairs(codes) do
    table.insert(code_list, string.format('"%d":%d', k, v))
  end
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"secs":%.3f,"rps":%.1f,"good":%d,"bad":%d,"p50_ms":%.3f,"p90_ms":%.3f,' ..
      '"p99_ms":%.3f,"max_ms":%.3f,"statuses":{%s},"errors":{"connect":%d,"read":%d,' ..
      '"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, secs, good_total / secs, good_total, bad_total,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, table.concat(code_list, ","), e.connect, e.read, e.write, e.status,
    e.timeout))
end
