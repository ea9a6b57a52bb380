-- wrk script for bench/serve_bench.sh's "varied" pass: each request takes the next URL of the
-- list in $BENCH_URLS (one path a line), so a run walks many distinct pages (cold cache).
-- Each wrk thread starts at its own offset so threads do not ask for the same pages together.
-- Once the run has asked for every URL, a worker may answer a repeat from its response cache:
-- the responses saying `x-archive-cache: hit` are counted and printed ("cache hits: N").
local urls = {}
for line in io.lines(os.getenv("BENCH_URLS")) do
  if #line > 0 then urls[#urls + 1] = line end
end

local started = 0
local threads = {}
function setup(thread)
  thread:set("offset", started)
  started = started + 1
  threads[#threads + 1] = thread
end

local counter = nil
function request()
  if counter == nil then
    local n = tonumber(os.getenv("BENCH_THREADS") or "2")
    counter = math.floor((offset or 0) * #urls / n)
  end
  counter = counter % #urls + 1
  return wrk.format("GET", urls[counter])
end

hits = 0
function response(status, headers, body)
  if headers["x-archive-cache"] == "hit" then hits = hits + 1 end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + (thread:get("hits") or 0) end
  io.write(string.format("cache hits: %d\n", total))
end
