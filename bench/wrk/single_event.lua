-- One PRD-shaped event per request, each with its own event_id (so nothing is a resend).
-- Raw PII goes in as products send it; the endpoint upserts the person and stores hashes only.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  key = os.getenv("GDP_BENCH_KEY")
end

request = function()
  counter = counter + 1
  local id = string.format("w%d-%d-%d", tid, counter, math.random(1, 1000000000))
  local body = string.format([[{"event_name":"Purchase","event_time":%d,"event_id":"%s",
"event_source_url":"https://snapmix.example.com/checkout",
"user_data":{"email":"Bench.User%d@Example.com","phone":"+1 415 555 %04d",
"client_ip_address":"203.0.113.9","client_user_agent":"Mozilla/5.0 (bench)"},
"custom_data":{"value":9.99,"currency":"USD","source_product":"snapmix"}}]],
    os.time(), id, counter % 5000, counter % 10000)
  return wrk.format("POST", "/api/v1/meta/event",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}, body)
end
