-- 003_processor_ops.sql: what the processor's operations read.
--
-- `paystream-processor dead-letters list --pending` and `redrive
-- --all-pending` select the dead letters not yet re-driven, oldest first.
-- Dead letters are few while the pipeline is healthy but accumulate for as
-- long as nobody fixes their cause; a partial index keeps that selection
-- proportional to what is pending, not to the table's history.
CREATE INDEX dead_letters_pending_idx ON dead_letters (id) WHERE redriven_at IS NULL;

-- Operators look up the rows of one consumer group (which instance owns
-- what, how far each partition is) by group: the primary key
-- (consumer_group, topic, partition) already serves that, so nothing is
-- added for kafka_offsets.
