-- wrk -s wrk_signed.lua URL -- <requests file> <method> <body_size>
-- Replays pre-signed S3 requests (scripts/bench_s3.py writes the file: one per line, tab-separated
-- path, Authorization, x-amz-date, x-amz-content-sha256, and optionally one more "name:value"
-- header the signature covers). Thread t sends lines t, t+T, t+2T, …
-- (wrapping), so the threads never send the same key at once. PUT bodies are <body_size> bytes of
-- "p", which the signatures' payload hash covers.
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  lines = {}
  for line in io.lines(args[1]) do
    local path, auth, date, sha, extra = line:match("([^\t]+)\t([^\t]+)\t([^\t]+)\t([^\t]+)\t?([^\t]*)")
    local name, value = extra:match("([^:]+):(.*)")
    table.insert(lines, { path, auth, date, sha, name, value })
  end
  method = args[2] or "GET"
  size = tonumber(args[3] or "0")
  body = size > 0 and string.rep("p", size) or nil
  nthreads = #threads > 0 and #threads or 2
  n = tid
end
function request()
  local entry = lines[(n % #lines) + 1]
  n = n + nthreads
  local headers = { ["Authorization"] = entry[2], ["x-amz-date"] = entry[3], ["x-amz-content-sha256"] = entry[4] }
  if entry[5] then headers[entry[5]] = entry[6] end
  return wrk.format(method, entry[1], headers, body)
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
