-- wrk script: each request creates an order of two lines as checkout sends it (prices, a fresh
-- Idempotency-Key, Prefer: wait=5). An order counts when the answer is 201 "awaiting payment".
-- LOMS_BENCH_TOKEN holds a service token as checkout's (orders:write); skus 1..LOMS_BENCH_SKUS
-- are stocked plentifully.
local token = os.getenv("LOMS_BENCH_TOKEN")
local skus = tonumber(os.getenv("LOMS_BENCH_SKUS") or "500")
-- Users drawn from 1..LOMS_BENCH_USERS; the orders stay unpaid, so they are spread thin enough
-- that no user reaches LOMS's limits on orders awaiting payment.
local users = tonumber(os.getenv("LOMS_BENCH_USERS") or "1000000")
local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("id", #threads)
end

function init(args)
   math.randomseed(os.time() * 100 + id)
   sent, ok, other = 0, 0, 0
end

function request()
   sent = sent + 1
   local sku = math.random(1, skus)
   local body = string.format(
      '{"user_id": %d, "items": [{"sku": %d, "count": %d, "price": 1000}, {"sku": %d, "count": 1, "price": 500}]}',
      math.random(1, users), sku, 1 + sku % 3, sku % skus + 1)
   local headers = {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. token,
      ["Prefer"] = "wait=5",
      ["Idempotency-Key"] = string.format("wrk-%d-%d-%d", id, sent, math.random(1, 1000000000)),
   }
   return wrk.format("POST", "/api/v1/orders", headers, body)
end

function response(status, headers, body)
   if status == 201 and string.find(body, '"awaiting payment"', 1, true) then
      ok = ok + 1
   else
      other = other + 1
   end
end

function done(summary, latency, requests)
   local total_ok, total_other = 0, 0
   for _, thread in ipairs(threads) do
      total_ok = total_ok + thread:get("ok")
      total_other = total_other + thread:get("other")
   end
   io.write(string.format(
      "RESULT ok=%d other=%d errors=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d mean_us=%d\n",
      total_ok, total_other,
      summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
      summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
