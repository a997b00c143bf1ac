-- 005_apply_throughput.sql: fewer index entries per applied event.
--
-- Batched apply is bound by the server CPU spent per row and per index
-- entry (../shared/reference/performance.md, measured in bench/processor):
-- every index entry costs roughly as much again as a heap row. The surrogate
-- identities of payment_events and payments are read by nothing: the natural
-- keys (channel, channel_event_id) and (channel, merchant_order_no) are what
-- deduplicate events and name payments, and every query, the audit and the
-- replay use them. Dropping the columns removes two index entries and two
-- sequence draws per new payment, and two always-increasing keys whose
-- right-most index pages every concurrent processor instance competed for.
--
-- The natural keys become the primary keys (same columns, same uniqueness),
-- so the tables keep a primary key for tools that expect one.

ALTER TABLE payment_events DROP COLUMN id;
ALTER TABLE payment_events DROP CONSTRAINT payment_events_channel_event_key;
ALTER TABLE payment_events ADD CONSTRAINT payment_events_pkey
    PRIMARY KEY (channel, channel_event_id);

ALTER TABLE payments DROP COLUMN id;
ALTER TABLE payments DROP CONSTRAINT payments_channel_order_key;
ALTER TABLE payments ADD CONSTRAINT payments_pkey PRIMARY KEY (channel, merchant_order_no);

-- The reconciler's window scan (payments of a channel paid in [start, end))
-- needs an index on paid_time, but a B-tree entry per new payment costs the
-- apply as much as a row. Payments are inserted in about the order they were
-- paid (callbacks arrive within minutes), so a BRIN index (one summary per
-- 128 pages, updated only when a row widens its range) serves the window
-- with a bitmap scan of the matching ranges at a fraction of the cost. BRIN
-- is lossy, never wrong: rows out of order (a late callback, an updated
-- payment's new version) widen a range and cost a few extra pages read.
DROP INDEX payments_channel_paid_time_idx;
CREATE INDEX payments_paid_time_brin ON payments USING brin (paid_time);

-- Journal ids are drawn by each processor instance a batch at a time
-- (processor/apply_write.c, write_journals): a per-session cache makes that
-- one sequence access per batch instead of one per journal. Ids stay unique;
-- they were never gap-free (a rolled-back batch loses its draws) and nothing
-- reads their order.
ALTER TABLE journals ALTER COLUMN id SET CACHE 5000;
