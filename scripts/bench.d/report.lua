-- wrk's done(): the latency percentiles, request count and errors as one JSON line, which
-- scripts/bench reads. Each script in this folder uses it: done = dofile(<here>/report.lua).
return function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'JSON {"p50":%d,"p99":%d,"p999":%d,"requests":%d,"seconds":%f,"errors":%d,"non2xx":%d}\n',
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), summary.requests,
    summary.duration / 1e6, e.connect + e.read + e.write + e.timeout, e.status))
end
