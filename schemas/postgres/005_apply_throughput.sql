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
