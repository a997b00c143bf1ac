-- 002_ledger_apply.sql: what the processor's set-based, order-tolerant apply
-- (processor/apply.c, processor/fold.c) needs on top of 001.
--
-- 1. Payments keep the facts their state is derived from (paid, closed, the
--    highest cumulative refund total a channel reported), so that the state
--    is a function of the set of callbacks seen, not of their order.
-- 2. payment_refunds: one row per refund id of a payment, so a refund is
--    posted once whatever the number of notifications, a refund that arrives
--    before its payment waits PENDING, and a reversal knows what to undo.
-- 3. ledger_commands: every reconciler command applied, once (its
--    command_id), whether or not it posted a journal.
-- 4. journals.effect: the economic identity of a journal, independent of
--    which notification or command posted it ("PAY:WECHAT:<order>"), for the
--    audit digest. From 002 on, a CALLBACK_EVENT journal's source_id is its
--    business effect ("<CHANNEL>:<order>:PAY",
--    "<CHANNEL>:<order>:REFUND:<refund id>",
--    "<CHANNEL>:<order>:REFUND_REVERSED:<refund id>") rather than the
--    notification id: UNIQUE (source_kind, source_id) then makes it
--    impossible, in the database itself, for two notifications of one
--    payment to credit it twice.
-- 5. The zero-sum check becomes one statement-level trigger over a transition
--    table instead of a deferred per-row trigger: the per-row version ran one
--    lookup per ledger line at COMMIT, which bounded the apply rate. The
--    guarantee is kept and tightened: every INSERT statement into
--    ledger_entries must leave each journal it touches balanced per currency
--    (by induction every journal is balanced at all times), so an unbalanced
--    journal fails its INSERT and can never commit. A journal must therefore
--    be written in one statement (apply.c writes all of a batch's lines in
--    one statement).
-- 6. The two foreign keys of ledger_entries (to journals, and to accounts on
--    (account_id, currency)) become part of the same statement-level check:
--    a per-row foreign key runs one lookup and takes one row lock per line,
--    and on the hot clearing accounts those row locks were the largest cost
--    of an apply batch. The guarantee stays: every inserted line must name
--    an existing journal and an existing account in its currency, checked
--    set-based per statement; journals are append-only (001) and accounts
--    now refuse DELETE and key changes, so what was checked stays true.

ALTER TABLE payments
    ADD COLUMN is_paid boolean NOT NULL DEFAULT false,
    ADD COLUMN is_closed boolean NOT NULL DEFAULT false,
    -- Alipay's refund_fee is cumulative: refunds post the delta over this.
    ADD COLUMN refund_total_minor bigint NOT NULL DEFAULT 0 CHECK (refund_total_minor >= 0),
    -- A payment with money (or a reversal of money) must say it was paid,
    -- except REVERSED, which a REVERSE command may reach before the success.
    ADD CONSTRAINT payments_was_paid_check CHECK (
        state NOT IN ('PAID', 'PARTIALLY_REFUNDED', 'REFUNDED') OR is_paid);

CREATE TABLE payment_refunds (
    channel           text NOT NULL CHECK (channel IN ('WECHAT', 'ALIPAY', 'APPLE')),
    merchant_order_no text NOT NULL CHECK (merchant_order_no <> ''),
    refund_id         text NOT NULL CHECK (refund_id <> ''),
    amount_minor      bigint NOT NULL CHECK (amount_minor > 0),
    -- PENDING: waiting for the payment's success; POSTED: its REFUND journal
    -- exists; REVERSED: undone (net zero); REJECTED: did not fit in the
    -- payment's amount once that was known.
    state             text NOT NULL CHECK (state IN ('PENDING', 'POSTED', 'REVERSED', 'REJECTED')),
    -- A REFUND journal was posted at some point (a REVERSED refund may or may
    -- not have been posted before its reversal).
    posted            boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, merchant_order_no, refund_id),
    CONSTRAINT payment_refunds_posted_check CHECK (state <> 'POSTED' OR posted)
);

CREATE TABLE ledger_commands (
    command_id        text PRIMARY KEY CHECK (command_id <> ''),
    kind              text NOT NULL CHECK (kind IN ('REVERSE', 'COMPENSATE', 'ADJUST')),
    channel           text NOT NULL CHECK (channel IN ('WECHAT', 'ALIPAY', 'APPLE')),
    payment_key       text NOT NULL CHECK (payment_key <> ''),
    -- The order number the payment key resolved to when applied.
    merchant_order_no text NOT NULL CHECK (merchant_order_no <> ''),
    amount_minor      bigint NOT NULL,
    currency          char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    account_id        text,
    reason            text,
    recon_run_id      text,
    evidence_avro     bytea NOT NULL,
    kafka_topic       text NOT NULL,
    kafka_partition   integer NOT NULL CHECK (kafka_partition >= 0),
    kafka_offset      bigint NOT NULL CHECK (kafka_offset >= 0),
    applied_at        timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE journals ADD COLUMN effect text CHECK (effect <> '');

DROP TRIGGER ledger_entries_balanced ON ledger_entries;

ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_journal_id_fkey;
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_account_id_currency_fkey;

CREATE FUNCTION ledger_refuse_account_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NEW.account_id IS DISTINCT FROM OLD.account_id
       OR NEW.currency IS DISTINCT FROM OLD.currency THEN
        RAISE EXCEPTION 'accounts: % of account "%" (%) refused: ledger lines refer to it',
              TG_OP, OLD.account_id, OLD.currency
              USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER accounts_keys_immutable
    BEFORE UPDATE OR DELETE ON accounts
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_account_change();

CREATE FUNCTION ledger_check_statement_balanced() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.journal_id INTO bad
      FROM (SELECT DISTINCT journal_id FROM ledger_new_entries) n
     WHERE NOT EXISTS (SELECT 1 FROM journals j WHERE j.id = n.journal_id)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger line refers to missing journal %', bad.journal_id
              USING ERRCODE = 'foreign_key_violation';
    END IF;
    SELECT n.account_id, n.currency INTO bad
      FROM (SELECT DISTINCT account_id, currency FROM ledger_new_entries) n
     WHERE NOT EXISTS (SELECT 1 FROM accounts a
                        WHERE a.account_id = n.account_id AND a.currency = n.currency)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger line refers to missing account "%" in %', bad.account_id,
              bad.currency
              USING ERRCODE = 'foreign_key_violation';
    END IF;
    -- sum(bigint) is numeric: it cannot overflow.
    SELECT n.journal_id, n.currency, sum(n.amount_minor) AS total INTO bad
      FROM ledger_new_entries n
     GROUP BY n.journal_id, n.currency
    HAVING sum(n.amount_minor) <> 0
     ORDER BY n.journal_id, n.currency
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal % does not balance: % entries sum to %',
              bad.journal_id, bad.currency, bad.total
              USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER ledger_entries_balanced_statement
    AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS ledger_new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_statement_balanced();
