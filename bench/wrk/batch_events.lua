-- {"data": [100 events]} per request, unique event_ids.
local counter = 0

function setup(thread)
  thread:set("tid", math.random(1, 1000000000))
end

function init(args)
  key = os.getenv("GDP_BENCH_KEY")
  size = tonumber(os.getenv("GDP_BENCH_BATCH") or "100")
end

request = function()
  local events = {}
  for i = 1, size do
    counter = counter + 1
    events[i] = string.format([[{"event_name":"Lead","event_time":%d,"event_id":"b%d-%d",
"user_data":{"email":"batch%d@example.com","client_ip_address":"203.0.113.9"},
"custom_data":{"source_product":"snapmix"}}]], os.time(), tid, counter, counter % 5000)
  end
  local body = '{"data":[' .. table.concat(events, ",") .. ']}'
  return wrk.format("POST", "/api/v1/meta/event",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}, body)
end
