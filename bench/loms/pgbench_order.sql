-- One order as LOMS writes it for `POST /api/v1/orders` with `Idempotency-Key` and `Prefer: wait`:
-- the create statement, then the reservation statement, each in autocommit. They are the statements
-- of services/loms/src/loms/repositories/{orders,reservations}.py with their parameters written
-- inline; nothing publishes the outbox here.
-- pgbench reads `:name` everywhere (in string literals, and `::type` as a variable in prepared mode),
-- so casts are written CAST(... AS ...) and the JSON timestamps carry no colons.
\set sku1 random(1, 500)
\set sku2 1 + (:sku1 % 500)
\set n1 random(1, 3)
\set n2 random(1, 3)
\set user random(1, 100000)
\set key random(1, 1000000000000000)
WITH new_order AS (
    INSERT INTO orders (user_id, status, total_price, created_at, updated_at)
    VALUES (:user, 'new', 3000, now(), now())
    RETURNING id
), lines AS (
    INSERT INTO order_items (order_id, sku, count, price)
    SELECT new_order.id, i.sku, i.count, i.price FROM new_order,
        unnest(ARRAY[CAST(:sku1 AS bigint), CAST(:sku2 AS bigint)], ARRAY[CAST(:n1 AS int), CAST(:n2 AS int)], ARRAY[CAST(1000 AS bigint), CAST(500 AS bigint)])
        AS i(sku, count, price)
), event AS (
    INSERT INTO outbox (topic, key, payload, request_id)
    SELECT 'loms.order-events', CAST(new_order.id AS text),
           jsonb_set(CAST('{"event_id": "9b2f3c9e-2f44-4b8e-9d7e-2d1c5a0f3b11", "type": "order.status_changed", "occurred_at": "2026-01-01T12h00m00.000000+0000", "order_id": 0, "user_id": 1, "status": "new", "previous_status": null, "items": [{"sku": 1, "count": 1, "price": 1000}, {"sku": 2, "count": 2, "price": 500}], "total_price": 3000}' AS jsonb),
                     '{order_id}', to_jsonb(new_order.id)),
           'bench-request-id'
    FROM new_order
), idem AS (
    INSERT INTO idempotency_keys (scope, key, request_hash, state, resource_id)
    SELECT 'service/bench POST /api/v1/orders', 'pgbench-' || CAST(:key AS text),
           '5f2b0e6c8c7a4e1d9b3a2f1e0d9c8b7a6f5e4d3c2b1a09f8e7d6c5b4a3928171', 'running', new_order.id
    FROM new_order
)
SELECT id AS order_id FROM new_order \gset
WITH claimed AS MATERIALIZED (
    SELECT id FROM orders WHERE id = :order_id AND status = 'new' FOR UPDATE SKIP LOCKED
), locked AS MATERIALIZED (
    SELECT s.sku, s.warehouse_id, s.total - s.reserved AS available FROM stocks s
    WHERE s.sku = ANY(CAST(ARRAY[:sku1, :sku2] AS bigint[])) AND EXISTS (SELECT 1 FROM claimed)
    ORDER BY s.sku, s.warehouse_id FOR UPDATE
), lines AS (
    SELECT * FROM unnest(CAST(ARRAY[:sku1, :sku2] AS bigint[]), CAST(ARRAY[:n1, :n2] AS bigint[])) AS l(sku, count)
), levels AS (
    SELECT sku, warehouse_id, available,
           sum(available) OVER (PARTITION BY sku ORDER BY available DESC, warehouse_id) - available AS before
    FROM locked WHERE available > 0
), short AS (
    SELECT l.sku, l.count AS requested, coalesce(sum(v.available), 0) AS available
    FROM lines l LEFT JOIN levels v ON v.sku = l.sku
    WHERE EXISTS (SELECT 1 FROM claimed)
    GROUP BY l.sku, l.count HAVING coalesce(sum(v.available), 0) < l.count
), outcome AS MATERIALIZED (
    SELECT (SELECT jsonb_agg(jsonb_build_object('sku', sku, 'requested', requested, 'available', available)
                             ORDER BY sku) FROM short) AS shortages
    FROM claimed
), alloc AS MATERIALIZED (
    SELECT v.sku, v.warehouse_id, least(v.available, l.count - v.before) AS count
    FROM levels v JOIN lines l ON l.sku = v.sku
    WHERE v.before < l.count AND NOT EXISTS (SELECT 1 FROM short)
), stock AS (
    UPDATE stocks s SET reserved = s.reserved + alloc.count
    FROM alloc WHERE s.sku = ANY(CAST(ARRAY[:sku1, :sku2] AS bigint[]))
                 AND s.sku = alloc.sku AND s.warehouse_id = alloc.warehouse_id
), held AS (
    INSERT INTO reservations (order_id, sku, warehouse_id, count, state)
    SELECT CAST(:order_id AS bigint), alloc.sku, alloc.warehouse_id, alloc.count, 'held' FROM alloc
), changed AS (
    UPDATE orders o
    SET status = CASE WHEN outcome.shortages IS NULL THEN 'awaiting payment' ELSE 'failed' END,
        payment_deadline = CASE WHEN outcome.shortages IS NULL THEN CAST(now() + interval '10 minutes' AS timestamptz) END,
        shortages = outcome.shortages,
        updated_at = CAST(now() AS timestamptz)
    FROM outcome WHERE o.id = CAST(:order_id AS bigint)
), events AS (
    INSERT INTO outbox (topic, key, payload, request_id)
    SELECT CAST('loms.order-events' AS varchar), CAST(CAST(:order_id AS bigint) AS varchar),
           CASE WHEN outcome.shortages IS NULL THEN CAST('{"event_id": "0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5", "type": "order.status_changed", "occurred_at": "2026-01-01T12h00m00.001000+0000", "order_id": 1, "user_id": 1, "status": "awaiting payment", "previous_status": "new", "items": [{"sku": 1, "count": 1, "price": 1000}, {"sku": 2, "count": 2, "price": 500}], "total_price": 3000, "payment_deadline": "2026-01-01T12h10m00.001000+0000"}' AS jsonb)
                ELSE (CAST('{"event_id": "0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5", "type": "order.status_changed", "occurred_at": "2026-01-01T12h00m00.001000+0000", "order_id": 1, "user_id": 1, "status": "awaiting payment", "previous_status": "new", "items": [{"sku": 1, "count": 1, "price": 1000}, {"sku": 2, "count": 2, "price": 500}], "total_price": 3000, "payment_deadline": "2026-01-01T12h10m00.001000+0000"}' AS jsonb) - 'payment_deadline')
                     || jsonb_build_object('event_id', gen_random_uuid(), 'status', 'failed') END,
           CAST('bench-request-id' AS varchar)
    FROM outcome
), finished AS (
    UPDATE idempotency_keys k
    SET state = 'done', response_status = CAST(201 AS int), updated_at = now(),
        response_body = CASE WHEN outcome.shortages IS NULL THEN CAST('{"order_id": 1, "user_id": 1, "status": "awaiting payment", "items": [{"sku": 1, "count": 1, "price": 1000}, {"sku": 2, "count": 2, "price": 500}], "total_price": 3000, "created_at": "2026-01-01T12h00m00+0000", "updated_at": "2026-01-01T12h00m00+0000", "payment_deadline": "2026-01-01T12h10m00+0000", "cancel_reason": null, "shortages": null}' AS text)
                             ELSE CAST(CAST('{"order_id": 1, "user_id": 1, "status": "awaiting payment", "items": [{"sku": 1, "count": 1, "price": 1000}, {"sku": 2, "count": 2, "price": 500}], "total_price": 3000, "created_at": "2026-01-01T12h00m00+0000", "updated_at": "2026-01-01T12h00m00+0000", "payment_deadline": "2026-01-01T12h10m00+0000", "cancel_reason": null, "shortages": null}' AS jsonb) || jsonb_build_object(
                                 'status', 'failed', 'payment_deadline', NULL, 'shortages', outcome.shortages
                             ) AS text)
                        END
    FROM outcome WHERE k.scope = CAST('service/bench POST /api/v1/orders' AS varchar) AND k.key = CAST('pgbench-' || CAST(:key AS text) AS varchar)
)
SELECT EXISTS (SELECT 1 FROM claimed) AS claimed, (SELECT shortages FROM outcome) AS shortages;
