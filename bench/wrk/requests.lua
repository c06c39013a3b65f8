-- wrk script for Deskside's benchmark (bench/__main__.py writes the inputs).
--
-- BENCH_REQUESTS names a file of requests, one per line: "METHOD PATH". Each
-- thread cycles through them from its own starting point. BENCH_TOKEN, when
-- set, is sent as a bearer token; BENCH_BODY names a file whose content is the
-- JSON body of every request. At the end one line of JSON gives the figures
-- (latencies in microseconds), which the Python side parses.

local requests = {}
local position = 0
local threads_started = 0

function setup(thread)
  thread:set("offset", threads_started * 997)
  threads_started = threads_started + 1
end

local function read_all(path)
  local file = assert(io.open(path, "rb"))
  local content = file:read("*a")
  file:close()
  return content
end

function init(args)
  local headers = { ["Accept"] = "application/json" }
  local token = os.getenv("BENCH_TOKEN")
  if token and token ~= "" then
    headers["Authorization"] = "Bearer " .. token
  end
  local body = nil
  local body_path = os.getenv("BENCH_BODY")
  if body_path and body_path ~= "" then
    body = read_all(body_path)
    headers["Content-Type"] = "application/json"
  end
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    local method, path = line:match("^(%S+)%s+(%S+)$")
    if method then
      requests[#requests + 1] = wrk.format(method, path, headers, body)
    end
  end
  -- Threads start at different places so they do not ask for the same row in step.
  position = offset % #requests
end

function request()
  position = position % #requests + 1
  return requests[position]
end

function done(summary, latency, _)
  local errors = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"non_2xx":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d}\n',
    summary.requests, summary.duration, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
