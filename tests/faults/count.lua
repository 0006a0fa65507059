-- tests/faults/count.lua — wrk script: count responses by status class, with
-- 502 and 503 apart, and print one machine-readable line at the end:
--   RESULT requests=N ok=N s4xx=N s502=N s503=N s5xx=N sockerr=N p50_ms=X p99_ms=X
-- (wrk itself counts socket errors: connect, read, write, timeout.)
local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

-- Paths after wrk's "--" are requested in turn (default: the URL's own).
function init(args)
   ok, s4xx, s502, s503, s5xx = 0, 0, 0, 0, 0
   paths, nth = {}, 0
   for i, p in ipairs(args) do paths[i] = wrk.format(nil, p) end
end

function request()
   if #paths == 0 then return wrk.request() end
   nth = nth % #paths + 1
   return paths[nth]
end

function response(status, headers, body)
   if status < 400 then ok = ok + 1
   elseif status < 500 then s4xx = s4xx + 1
   elseif status == 502 then s502 = s502 + 1
   elseif status == 503 then s503 = s503 + 1
   else s5xx = s5xx + 1 end
end

function done(summary, latency, requests)
   local t = {ok = 0, s4xx = 0, s502 = 0, s503 = 0, s5xx = 0}
   for _, thread in ipairs(threads) do
      for k, _ in pairs(t) do t[k] = t[k] + thread:get(k) end
   end
   local e = summary.errors
   io.write(string.format(
      "RESULT requests=%d ok=%d s4xx=%d s502=%d s503=%d s5xx=%d sockerr=%d p50_ms=%.1f p99_ms=%.1f\n",
      summary.requests, t.ok, t.s4xx, t.s502, t.s503, t.s5xx,
      e.connect + e.read + e.write + e.timeout,
      latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
