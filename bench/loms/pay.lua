-- wrk script: each connection creates an order (as orders.lua does: two lines, prices, a fresh
-- Idempotency-Key, Prefer: wait=5) and then pays it. A thread keeps the ids of its orders that
-- are awaiting payment; its next request pays one of them, or creates an order when none waits.
-- An order counts when its payment answers 200 "paid".
-- LOMS_BENCH_TOKEN holds a service token as checkout's (orders:write); skus 1..LOMS_BENCH_SKUS
-- are stocked plentifully, and users are drawn from 1..LOMS_BENCH_USERS.
local token = os.getenv("LOMS_BENCH_TOKEN")
local skus = tonumber(os.getenv("LOMS_BENCH_SKUS") or "500")
local users = tonumber(os.getenv("LOMS_BENCH_USERS") or "1000000")
local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("id", #threads)
end

function init(args)
   math.randomseed(os.time() * 100 + id)
   sent, created, paid, other = 0, 0, 0, 0
   unpaid = {}
end

local function create()
   local sku = math.random(1, skus)
   local body = string.format(
      '{"user_id": %d, "items": [{"sku": %d, "count": 1, "price": 1000}, {"sku": %d, "count": 1, "price": 500}]}',
      math.random(1, users), sku, sku % skus + 1)
   return wrk.format("POST", "/api/v1/orders", {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. token,
      ["Prefer"] = "wait=5",
      ["Idempotency-Key"] = string.format("pay-%d-%d-%d", id, sent, math.random(1, 1000000000)),
   }, body)
end

function request()
   sent = sent + 1
   local order_id = table.remove(unpaid)
   if order_id == nil then
      return create()
   end
   return wrk.format("POST", "/api/v1/orders/" .. order_id .. "/pay", {
      ["Authorization"] = "Bearer " .. token,
      ["Idempotency-Key"] = string.format("pay-%d-%s", id, order_id),
   })
end

function response(status, headers, body)
   if status == 201 and string.find(body, '"awaiting payment"', 1, true) then
      created = created + 1
      table.insert(unpaid, string.match(body, '"order_id":%s*(%d+)'))
   elseif status == 200 and string.find(body, '"status":%s*"paid"') then
      paid = paid + 1
   else
      other = other + 1
   end
end

function done(summary, latency, requests)
   local total_created, total_paid, total_other = 0, 0, 0
   for _, thread in ipairs(threads) do
      total_created = total_created + thread:get("created")
      total_paid = total_paid + thread:get("paid")
      total_other = total_other + thread:get("other")
   end
   io.write(string.format(
      "RESULT created=%d paid=%d other=%d errors=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d mean_us=%d\n",
      total_created, total_paid, total_other,
      summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
      summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
