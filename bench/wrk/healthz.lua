-- Baseline: the service's own floor (routing + one database round trip), no ingest work.
request = function()
  return wrk.format("GET", "/healthz")
end
