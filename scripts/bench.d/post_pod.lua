-- wrk: POST a new pod per request (unique names per thread), report percentiles as JSON.
local counter = 0
local threads = 0
local path = os.getenv("BENCH_PATH") or "/api/v1/namespaces/bench/pods"

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

function init(args)
  -- Unique per run and thread: repeated names would be 409s, not creates.
  prefix = string.format("%s-%d", os.getenv("BENCH_RUN") or "b", id)
end

request = function()
  counter = counter + 1
  local body = string.format(
    '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"%s-%d","labels":{"app":"bench"}},' ..
    '"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox:1.36",' ..
    '"resources":{"requests":{"cpu":"250m","memory":"256Mi"}}}]}}', prefix, counter)
  return wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
end

-- The JSON report, shared with the other scripts here.
done = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "report.lua")
