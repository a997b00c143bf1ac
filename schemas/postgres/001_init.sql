-- 001_init.sql: the initial paystream data model.
--
-- Applied by `paystream-processor migrate` inside one transaction together
-- with its row in schema_migrations. Migrations are append-only: never edit
-- this file once applied anywhere; add 002_*.sql instead (migrate refuses a
-- file whose checksum changed).
--
-- Conventions, everywhere:
--   * money is bigint minor units (fen, cents) plus a char(3) ISO 4217 code
--     checked against ^[A-Z]{3}$; no numeric, real or money columns, so no
--     rounding can ever happen in the database
--   * times are timestamptz (UTC instants); the Avro contracts carry
--     microseconds, which timestamptz stores exactly
--   * channels, kinds and states are text with CHECK lists rather than enum
--     types: adding a value is then a one-line constraint swap in a later
--     migration instead of an ALTER TYPE that cannot run in a transaction on
--     older servers
--   * every natural key that the pipeline relies on for exactly-once
--     behaviour is a UNIQUE constraint, so a duplicate is rejected by the
--     database even if the application logic is wrong

-- ---------------------------------------------------------------------------
-- payment_events: every verified channel callback the processor applied,
-- exactly once.
-- ---------------------------------------------------------------------------
CREATE TABLE payment_events (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel            text NOT NULL
                       CHECK (channel IN ('WECHAT', 'ALIPAY', 'APPLE')),
    -- The channel's own notification id: channels retry callbacks, and ingest
    -- may produce the same callback twice, so this is the deduplication key.
    channel_event_id   text NOT NULL CHECK (channel_event_id <> ''),
    kind               text NOT NULL
                       CHECK (kind IN ('PAYMENT_SUCCEEDED', 'PAYMENT_CLOSED',
                                       'REFUND_SUCCEEDED', 'REFUND_REVERSED')),
    -- Raw channel name ("TRANSACTION.SUCCESS"), kept for audits.
    channel_event_type text NOT NULL,
    merchant_order_no  text NOT NULL,
    channel_txn_id     text NOT NULL,
    refund_id          text,
    -- The payment amount, or this refund's amount; never negative: direction
    -- comes from kind, sign only appears in ledger entries.
    amount_minor       bigint NOT NULL CHECK (amount_minor >= 0),
    -- Alipay reports a cumulative refunded amount; NULL for other channels.
    refund_total_minor bigint CHECK (refund_total_minor >= 0),
    currency           char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    account_id         text NOT NULL,
    event_time         timestamptz NOT NULL,
    paid_time          timestamptz,
    received_time      timestamptz NOT NULL,
    -- The Avro single-object message exactly as consumed: it carries the raw
    -- callback body, the signature headers and the key id, so an auditor can
    -- re-verify the channel's signature from the database alone.
    evidence_avro      bytea NOT NULL,
    -- Where the event came from, to trace a row back to the Kafka log.
    kafka_topic        text NOT NULL,
    kafka_partition    integer NOT NULL CHECK (kafka_partition >= 0),
    kafka_offset       bigint NOT NULL CHECK (kafka_offset >= 0),
    applied_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT payment_events_channel_event_key UNIQUE (channel, channel_event_id)
);

-- ---------------------------------------------------------------------------
-- payments: one row per channel payment, the current state after all
-- callbacks and reconciliation commands seen so far.
-- ---------------------------------------------------------------------------
CREATE TABLE payments (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel           text NOT NULL CHECK (channel IN ('WECHAT', 'ALIPAY', 'APPLE')),
    merchant_order_no text NOT NULL CHECK (merchant_order_no <> ''),
    -- NULL only for a payment first created by a reconciliation command that
    -- knew the order number but not the channel's transaction id.
    channel_txn_id    text,
    state             text NOT NULL
                      CHECK (state IN ('PENDING', 'PAID', 'PARTIALLY_REFUNDED', 'REFUNDED',
                                       'CLOSED', 'REVERSED')),
    -- Callbacks arrive out of order (a retried old notification after a
    -- newer one), so a stale callback must not move a payment backwards. The
    -- rank orders the states for that comparison, done in one row-level
    -- condition (UPDATE ... WHERE state_rank <= $new); it is tied to the
    -- state here so that the two can never disagree:
    --   PENDING 0 < CLOSED 1 < PAID 2 < PARTIALLY_REFUNDED 3 < REFUNDED 4 < REVERSED 5
    -- CLOSED ranks below PAID because a late success means money did arrive.
    -- The one deliberate step down (an Apple refund reversal lowers
    -- refunded_minor) is driven by amounts, not by rank.
    state_rank        smallint NOT NULL,
    amount_minor      bigint NOT NULL CHECK (amount_minor >= 0),
    refunded_minor    bigint NOT NULL DEFAULT 0,
    currency          char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    account_id        text NOT NULL,
    paid_time         timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    -- The merchant order number is what the business (and the statement)
    -- knows a payment by.
    CONSTRAINT payments_channel_order_key UNIQUE (channel, merchant_order_no),
    CONSTRAINT payments_state_rank_check CHECK (state_rank = CASE state
        WHEN 'PENDING' THEN 0 WHEN 'CLOSED' THEN 1 WHEN 'PAID' THEN 2
        WHEN 'PARTIALLY_REFUNDED' THEN 3 WHEN 'REFUNDED' THEN 4 WHEN 'REVERSED' THEN 5 END),
    -- Over-refunding is the classic double-apply symptom; make it impossible.
    CONSTRAINT payments_refunded_range_check
        CHECK (refunded_minor >= 0 AND refunded_minor <= amount_minor),
    CONSTRAINT payments_refund_state_check CHECK (
        (state <> 'REFUNDED' OR refunded_minor = amount_minor) AND
        (state <> 'PARTIALLY_REFUNDED' OR (refunded_minor > 0 AND refunded_minor < amount_minor)))
);
-- Statements from some channels name a payment only by the channel's id.
CREATE UNIQUE INDEX payments_channel_txn_key ON payments (channel, channel_txn_id)
    WHERE channel_txn_id IS NOT NULL;

-- ---------------------------------------------------------------------------
-- accounts: ledger accounts, one per (id, currency). A player who pays in
-- two currencies has two accounts; mixing currencies in one balance would
-- make the balance meaningless.
-- ---------------------------------------------------------------------------
CREATE TABLE accounts (
    account_id    text NOT NULL CHECK (account_id <> ''),
    currency      char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- PLAYER: money owed to a player (credits for payments).
    -- CHANNEL_CLEARING: what a channel owes us until it settles, the
    --   counter-account of every callback-driven entry.
    -- ADJUSTMENT: the counter-account of reconciliation corrections.
    kind          text NOT NULL CHECK (kind IN ('PLAYER', 'CHANNEL_CLEARING', 'ADJUSTMENT')),
    -- Maintained by the processor in the same transaction as the entries
    -- (sum of ledger_entries.amount_minor for this account); kept as a
    -- column so that reading a balance never scans the ledger.
    balance_minor bigint NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, currency)
);

-- ---------------------------------------------------------------------------
-- journals: one balanced set of ledger entries per source event or command.
-- ---------------------------------------------------------------------------
CREATE TABLE journals (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- CALLBACK_EVENT: source_id is "<channel>:<channel_event_id>".
    -- LEDGER_COMMAND: source_id is the reconciler's deterministic command_id.
    source_kind text NOT NULL CHECK (source_kind IN ('CALLBACK_EVENT', 'LEDGER_COMMAND')),
    source_id   text NOT NULL CHECK (source_id <> ''),
    description text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- The exactly-once guarantee for money: an event or command can post at
    -- most one journal, whatever the application does on redelivery.
    CONSTRAINT journals_source_key UNIQUE (source_kind, source_id)
);

-- ---------------------------------------------------------------------------
-- ledger_entries: double-entry lines. Every journal sums to zero per
-- currency (checked at commit by the trigger below).
-- ---------------------------------------------------------------------------
CREATE TABLE ledger_entries (
    journal_id   bigint NOT NULL REFERENCES journals (id),
    -- Position within the journal; (journal_id, line_no) is the primary key,
    -- which also serves the zero-sum check's lookup by journal, so the table
    -- needs no second index on the hot insert path.
    line_no      smallint NOT NULL CHECK (line_no >= 1),
    account_id   text NOT NULL,
    currency     char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- Signed: positive debits, negative credits, by the account's view. Zero
    -- lines carry no information and are refused.
    amount_minor bigint NOT NULL CHECK (amount_minor <> 0),
    PRIMARY KEY (journal_id, line_no),
    -- The composite key makes "entry currency = account currency" a foreign
    -- key rather than a trigger.
    FOREIGN KEY (account_id, currency) REFERENCES accounts (account_id, currency)
);

-- Zero-sum check: runs at COMMIT (deferred), once per inserted line, so a
-- journal may be written line by line inside a transaction but can never be
-- committed unbalanced. The lookup uses the primary key prefix journal_id.
-- sum(bigint) is numeric in PostgreSQL, so the sum cannot overflow.
CREATE FUNCTION ledger_check_journal_balanced() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT e.currency, sum(e.amount_minor) AS total INTO bad
      FROM ledger_entries e
     WHERE e.journal_id = NEW.journal_id
     GROUP BY e.currency
    HAVING sum(e.amount_minor) <> 0
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal % does not balance: % entries sum to %',
              NEW.journal_id, bad.currency, bad.total
              USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER ledger_entries_balanced
    AFTER INSERT ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_journal_balanced();

-- The ledger is append-only: corrections are new journals (reconciliation
-- commands), never edits, so history always explains every balance.
CREATE FUNCTION ledger_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
          USING ERRCODE = 'integrity_constraint_violation';
END
$$;

CREATE TRIGGER journals_append_only
    BEFORE UPDATE OR DELETE ON journals
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_entries_append_only
    BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

-- ---------------------------------------------------------------------------
-- kafka_offsets: consumer positions, stored in the same transaction as the
-- data they describe (the exactly-once pattern: Kafka-committed offsets are
-- never read back).
-- ---------------------------------------------------------------------------
CREATE TABLE kafka_offsets (
    consumer_group text NOT NULL,
    topic          text NOT NULL,
    partition      integer NOT NULL CHECK (partition >= 0),
    -- The next offset to consume; -2 (librdkafka's OFFSET_BEGINNING) until
    -- the first batch of a new partition is applied.
    next_offset    bigint NOT NULL CHECK (next_offset >= -2),
    -- Fencing token: bumped by each new owner when partitions are assigned.
    -- Every apply transaction updates its row WHERE owner_token = <its own>;
    -- a zombie that lost the partition matches no row and must roll back.
    owner_token    bigint NOT NULL DEFAULT 0 CHECK (owner_token >= 0),
    owner          text,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, partition)
);

-- ---------------------------------------------------------------------------
-- dead_letters: messages that can never be applied (undecodable, unknown
-- schema, violating an invariant), kept with their bytes so that they can be
-- re-driven after a fix instead of blocking their partition forever.
-- ---------------------------------------------------------------------------
CREATE TABLE dead_letters (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic           text NOT NULL,
    partition       integer NOT NULL CHECK (partition >= 0),
    kafka_offset    bigint NOT NULL CHECK (kafka_offset >= 0),
    reason          text NOT NULL CHECK (reason <> ''),
    message_key     bytea,
    raw             bytea NOT NULL,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    -- Set when an operator re-publishes the message; NULL while pending.
    redriven_at     timestamptz,
    -- A rewind after a rolled-back batch re-reads the same poison message;
    -- it must not become a second dead letter.
    CONSTRAINT dead_letters_origin_key UNIQUE (topic, partition, kafka_offset)
);

-- ---------------------------------------------------------------------------
-- recon_runs and recon_diffs: one row per reconciliation of a channel
-- statement against the ledger, and its findings.
-- ---------------------------------------------------------------------------
CREATE TABLE recon_runs (
    id               text PRIMARY KEY CHECK (id <> ''),
    channel          text NOT NULL CHECK (channel IN ('WECHAT', 'ALIPAY', 'APPLE')),
    window_start     timestamptz NOT NULL,
    window_end       timestamptz NOT NULL,
    -- sha256 of the statement file in lower-case hex: proves which exact
    -- statement a run's decisions were based on.
    statement_sha256 text NOT NULL CHECK (statement_sha256 ~ '^[0-9a-f]{64}$'),
    status           text NOT NULL DEFAULT 'RUNNING'
                     CHECK (status IN ('RUNNING', 'SUCCEEDED', 'FAILED')),
    statement_rows   bigint NOT NULL DEFAULT 0 CHECK (statement_rows >= 0),
    ledger_rows      bigint NOT NULL DEFAULT 0 CHECK (ledger_rows >= 0),
    matched_rows     bigint NOT NULL DEFAULT 0 CHECK (matched_rows >= 0),
    diff_rows        bigint NOT NULL DEFAULT 0 CHECK (diff_rows >= 0),
    started_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    CONSTRAINT recon_runs_window_check CHECK (window_end > window_start),
    -- A finished run has a finish time, a running one does not.
    CONSTRAINT recon_runs_finished_check CHECK ((status = 'RUNNING') = (finished_at IS NULL))
);

CREATE TABLE recon_diffs (
    run_id                 text NOT NULL REFERENCES recon_runs (id),
    -- The discrepancy class as named by the reconciler, e.g.
    -- MISSING_IN_LEDGER, MISSING_IN_STATEMENT, AMOUNT_MISMATCH.
    diff_class             text NOT NULL CHECK (diff_class ~ '^[A-Z][A-Z_]*$'),
    -- Merchant order number or channel transaction id.
    payment_key            text NOT NULL CHECK (payment_key <> ''),
    -- NULL on the side where the payment is missing.
    statement_amount_minor bigint,
    ledger_amount_minor    bigint,
    currency               char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- The LedgerCommand emitted to fix it, if any (deterministic, so a re-run
    -- finds the same id and the processor applies it once).
    command_id             text,
    -- OPEN: found, nothing sent; COMMANDED: a command was published;
    -- RESOLVED: the ledger now agrees; IGNORED: accepted by an operator.
    state                  text NOT NULL DEFAULT 'OPEN'
                           CHECK (state IN ('OPEN', 'COMMANDED', 'RESOLVED', 'IGNORED')),
    created_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, diff_class, payment_key),
    CONSTRAINT recon_diffs_amounts_check
        CHECK (statement_amount_minor IS NOT NULL OR ledger_amount_minor IS NOT NULL),
    CONSTRAINT recon_diffs_command_check CHECK (state <> 'COMMANDED' OR command_id IS NOT NULL)
);
