-- 005_apply_throughput.sql: fewer index entries per applied event.
--
-- Batched apply is bound by the server CPU spent per row and per index
-- entry (../shared/reference/performance.md, measured in bench/processor):
-- every index entry costs roughly as much again as a heap row. The surrogate
-- identity of payment_events is read by nothing: the natural key
-- (channel, channel_event_id) is what deduplicates events, and every query,
-- the audit and the replay use it. Dropping the column removes one index
-- entry and one sequence draw per event, and an always-increasing key whose
-- right-most index page every concurrent processor instance competed for.
--
-- The natural key becomes the primary key (same columns, same uniqueness),
-- so the table keeps a primary key for tools that expect one.

ALTER TABLE payment_events DROP COLUMN id;
ALTER TABLE payment_events DROP CONSTRAINT payment_events_channel_event_key;
ALTER TABLE payment_events ADD CONSTRAINT payment_events_pkey
    PRIMARY KEY (channel, channel_event_id);
