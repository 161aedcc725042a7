-- wrk -s wrk_get_keys.lua URL -- <path with @N@> <threads> <keys_per_thread> [seed]
-- Each request GETs <path> with @N@ replaced by "<t>-<k>", t and k uniformly at random among the
-- keys that wrk_put.lua wrote ("<tid>-1" .. "<tid>-(keys-1)" for every wrk thread tid; not
-- "<tid>-0": wrk builds thread 0's first request without sending it).
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  tmpl = args[1]
  nthreads = tonumber(args[2] or "1")
  keys = tonumber(args[3] or "1")
  math.randomseed(tonumber(args[4] or "1") + tid * 7919)
end
function request()
  local name = math.random(0, nthreads - 1) .. "-" .. math.random(1, math.max(1, keys - 1))
  return wrk.format("GET", (string.gsub(tmpl, "@N@", name)))
end
function done(summary, latency, requests)
  local s = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"bytes":%d,"secs":%.3f,"rps":%.1f,"bytes_s":%.1f,' ..
    '"p50_us":%d,"p99_us":%d,"errors":%d,"status_errors":%d}\n',
    summary.requests, summary.bytes, s, summary.requests / s, summary.bytes / s,
    latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
