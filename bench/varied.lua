-- wrk script for bench/serve_bench.sh's "varied" pass: each request takes the next URL of the
-- list in $BENCH_URLS (one path a line), so a run walks many distinct pages (cold cache).
-- Each wrk thread starts at its own offset so threads do not ask for the same pages together.
local urls = {}
for line in io.lines(os.getenv("BENCH_URLS")) do
  if #line > 0 then urls[#urls + 1] = line end
end

local started = 0
function setup(thread)
  thread:set("offset", started)
  started = started + 1
end

local counter = nil
function request()
  if counter == nil then
    local threads = tonumber(os.getenv("BENCH_THREADS") or "2")
    counter = math.floor((offset or 0) * #urls / threads)
  end
  counter = counter % #urls + 1
  return wrk.format("GET", urls[counter])
end
