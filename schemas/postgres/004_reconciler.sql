-- 004_reconciler.sql: what `paystream-reconciler run` needs on top of 001
-- (recon_runs, recon_diffs) and 002 (payment_refunds, ledger_commands).
--
-- 1. recon_runs gets the states of the emit protocol (docs/RECONCILIATION.md
--    "Crash safety"): RUNNING is no longer used by the reconciler itself;
--    EMITTING means "diff rows and planned commands committed, Kafka
--    transaction not confirmed", which the next run of the channel completes;
--    SUCCEEDED, HALTED (circuit breaker) and FAILED are final.
-- 2. recon_commands: every command a run planned, with the exact payload, so
--    that a run that crashed between its Kafka commit and its PostgreSQL
--    update is re-emitted byte for byte (same ids; the processor applies each
--    id once) and a later run never emits an id a second time.
-- 3. recon_diffs: refunds are diffed one by one (refund_id), PENDING
--    discrepancies (inside the grace period) are kept with their class, and
--    the command's kind and amount are recorded next to its id.
-- 4. An index on payments (channel, paid_time) for the window's ledger side.
--
-- The staging tables are TEMPORARY tables created by each run (diff.c): they
-- are private to the run's session, never WAL-logged, and vanish with it, so
-- they need no definition, no cleanup and no locking here.

ALTER TABLE recon_runs DROP CONSTRAINT recon_runs_status_check;
ALTER TABLE recon_runs DROP CONSTRAINT recon_runs_finished_check;
ALTER TABLE recon_runs
    ADD CONSTRAINT recon_runs_status_check
        CHECK (status IN ('RUNNING', 'EMITTING', 'SUCCEEDED', 'HALTED', 'FAILED')),
    ADD CONSTRAINT recon_runs_finished_check
        CHECK ((status IN ('RUNNING', 'EMITTING')) = (finished_at IS NULL)),
    ADD COLUMN statement_format text,
    ADD COLUMN pending_rows bigint NOT NULL DEFAULT 0 CHECK (pending_rows >= 0),
    ADD COLUMN commands_planned bigint NOT NULL DEFAULT 0 CHECK (commands_planned >= 0),
    ADD COLUMN commands_emitted bigint NOT NULL DEFAULT 0 CHECK (commands_emitted >= 0),
    -- Why the circuit breaker stopped the run; set iff status = 'HALTED'.
    ADD COLUMN halt_reason text,
    -- End offsets of the command topic's partitions ("0:12,1:40") taken just
    -- before the run's Kafka transaction: recovery reads from there to find
    -- which planned commands a crashed run did commit.
    ADD COLUMN kafka_start_offsets text,
    ADD CONSTRAINT recon_runs_halt_check CHECK ((status = 'HALTED') = (halt_reason IS NOT NULL));

-- The digest check ("this statement was already reconciled") and the
-- recovery scan ("an EMITTING run of this channel") both start here.
CREATE INDEX recon_runs_channel_sha_idx ON recon_runs (channel, statement_sha256);
CREATE INDEX recon_runs_emitting_idx ON recon_runs (channel) WHERE status = 'EMITTING';

ALTER TABLE recon_diffs DROP CONSTRAINT recon_diffs_pkey;
ALTER TABLE recon_diffs
    ADD COLUMN refund_id text NOT NULL DEFAULT '',
    -- Younger than recon.grace_s: recorded, not acted on, re-checked next run.
    ADD COLUMN pending boolean NOT NULL DEFAULT false,
    ADD COLUMN command_kind text CHECK (command_kind IN ('REVERSE', 'COMPENSATE', 'ADJUST')),
    ADD COLUMN command_amount_minor bigint,
    ADD CONSTRAINT recon_diffs_pkey PRIMARY KEY (run_id, diff_class, payment_key, refund_id),
    ADD CONSTRAINT recon_diffs_command_pair_check
        CHECK ((command_id IS NULL) = (command_kind IS NULL));

CREATE TABLE recon_commands (
    command_id    text PRIMARY KEY CHECK (command_id ~ '^[0-9a-f]{64}$'),
    -- The run that planned it first; a later run finding the same id
    -- neither plans nor emits it again.
    run_id        text NOT NULL REFERENCES recon_runs (id),
    -- Position in the run's plan: commands are re-emitted in the same order
    -- (a COMPENSATE before the ADJUST of the same payment).
    seq           integer NOT NULL CHECK (seq >= 0),
    kind          text NOT NULL CHECK (kind IN ('REVERSE', 'COMPENSATE', 'ADJUST')),
    channel       text NOT NULL CHECK (channel IN ('WECHAT', 'ALIPAY', 'APPLE')),
    payment_key   text NOT NULL CHECK (payment_key <> ''),
    amount_minor  bigint NOT NULL,
    currency      char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    account_id    text,
    reason        text NOT NULL,
    created_time  timestamptz NOT NULL,
    -- PLANNED: committed here, not yet known to be in Kafka.
    -- EMITTED: its Kafka transaction committed.
    state         text NOT NULL DEFAULT 'PLANNED' CHECK (state IN ('PLANNED', 'EMITTED')),
    emitted_at    timestamptz,
    CONSTRAINT recon_commands_emitted_check CHECK ((state = 'EMITTED') = (emitted_at IS NOT NULL))
);
CREATE INDEX recon_commands_planned_idx ON recon_commands (run_id, seq) WHERE state = 'PLANNED';

CREATE INDEX payments_channel_paid_time_idx ON payments (channel, paid_time);
