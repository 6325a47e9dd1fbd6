-- wrk: GET the URL given on the command line, report percentiles as JSON.
-- The JSON report, shared with the other scripts here.
done = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "report.lua")
