-- wrk script: replays the request lines of a file (path TAB user-agent TAB if-none-match), split
-- between wrk's threads. With STORM=1 each line is sent once; every thread notes when it started
-- and finished in the file DONE, and the last one to finish prints "storm_seconds N" and ends wrk
-- (wrk itself would wait for its whole -d duration).
local ffi = require("ffi")
ffi.cdef[[
  typedef struct { long tv_sec; long tv_nsec; } timespec;
  int clock_gettime(int clk_id, timespec *tp);
]]
local function now()
  local t = ffi.new("timespec")
  ffi.C.clock_gettime(1, t)  -- CLOCK_MONOTONIC
  return tonumber(t.tv_sec) + tonumber(t.tv_nsec) / 1e9
end

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  local all = {}
  for line in io.lines(os.getenv("REQUESTS")) do
    local path, agent, etag = line:match("([^\t]*)\t([^\t]*)\t?([^\t]*)")
    local headers = { ["User-Agent"] = agent }
    if etag ~= nil and etag ~= "" then headers["If-None-Match"] = etag end
    if os.getenv("CLOSE") == "1" then headers["Connection"] = "close" end
    table.insert(all, wrk.format("GET", path, headers))
  end
  nthreads = tonumber(os.getenv("THREADS"))
  lines = {}
  for i = id, #all, nthreads do table.insert(lines, all[i]) end
  storm = os.getenv("STORM") == "1"
  sent, done, started = 0, 0, nil
end

function request()
  if started == nil then started = now() end
  sent = sent + 1
  return lines[((sent - 1) % #lines) + 1]
end

function response(status, headers, body)
  done = done + 1
  if storm and done == #lines then
    local path = os.getenv("DONE")
    local f = io.open(path, "a")
    f:write(string.format("%.6f %.6f\n", started, now()))
    f:close()
    local first, last, count = math.huge, 0, 0
    for l in io.lines(path) do
      local a, b = l:match("([%d.]+) ([%d.]+)")
      first, last, count = math.min(first, tonumber(a)), math.max(last, tonumber(b)), count + 1
    end
    if count == nthreads then
      io.write(string.format("storm_seconds %.6f\n", last - first))
      io.flush()
      os.exit(0)
    end
    wrk.thread:stop()
  end
end
