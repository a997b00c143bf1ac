-- 007_journal_transfers.sql: a journal is one row that carries both of its
-- lines; the ledger lines become a view.
--
-- Every journal the processor posts has exactly two lines in one currency,
-- the second the negation of the first (a payment: player credited, channel
-- clearing debited; a refund the reverse; a reconciler command the same
-- shape against an adjustment account). Storing them as two more rows cost
-- each applied event two heap rows, two primary-key entries and a
-- statement-level zero-sum check: about half of the journal statement, the
-- largest statement of the apply (bench/processor; measured in bench/README).
--
-- A journal now states:
--   account_id        the first line's account,
--   amount_minor      the first line's signed amount (positive debit,
--                     negative credit, by the account's view, as before),
--   contra_account_id the second line's account, which takes -amount_minor,
--   currency          both lines' currency.
-- So a journal balances by construction: there is no row that could hold an
-- unbalanced one, and no trigger to disable. This is the transfer model of
-- double-entry (one debit account, one credit account, one amount).
--
-- ledger_entries keeps its name, columns and line numbering as a view, so
-- every reader (the audit's digest, the tests, an auditor's own SQL) sees
-- exactly the lines it saw before, and a digest taken before this migration
-- equals one taken after it.
--
-- What still needs a check across tables, that both accounts exist in the
-- journal's currency, is one statement-level trigger over the inserted
-- journals (as 002 did for the lines): accounts refuse DELETE and key
-- changes (002) and journals are append-only (001), so what was checked
-- stays true.
--
-- Existing ledgers are converted in place. A journal whose lines are not
-- exactly that shape (lines 1 and 2, one currency, opposite amounts) cannot
-- be represented: the migration then fails, naming the journal, and changes
-- nothing (it runs in one transaction).

ALTER TABLE journals
    ADD COLUMN currency          char(3),
    ADD COLUMN account_id        text,
    ADD COLUMN amount_minor      bigint,
    ADD COLUMN contra_account_id text;

DO $$
DECLARE
    bad record;
BEGIN
    SELECT j.id, count(e.line_no) AS lines INTO bad
      FROM journals j LEFT JOIN ledger_entries e ON e.journal_id = j.id
     GROUP BY j.id
    HAVING count(e.line_no) <> 2 OR min(e.line_no) <> 1 OR max(e.line_no) <> 2
        OR count(DISTINCT e.currency) <> 1 OR sum(e.amount_minor) <> 0
     ORDER BY j.id
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal % (% line(s)) is not two opposite lines in one currency: '
                        'it cannot become a transfer row; fix or remove it before 007',
              bad.id, bad.lines
              USING ERRCODE = 'integrity_constraint_violation';
    END IF;
END
$$;

-- The conversion rewrites journals, which are otherwise append-only.
ALTER TABLE journals DISABLE TRIGGER journals_append_only;
UPDATE journals j
   SET currency = l1.currency, account_id = l1.account_id, amount_minor = l1.amount_minor,
       contra_account_id = l2.account_id
  FROM ledger_entries l1, ledger_entries l2
 WHERE l1.journal_id = j.id AND l1.line_no = 1
   AND l2.journal_id = j.id AND l2.line_no = 2;
ALTER TABLE journals ENABLE TRIGGER journals_append_only;

ALTER TABLE journals
    ALTER COLUMN currency SET NOT NULL,
    ALTER COLUMN account_id SET NOT NULL,
    ALTER COLUMN amount_minor SET NOT NULL,
    ALTER COLUMN contra_account_id SET NOT NULL,
    ADD CONSTRAINT journals_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
    -- As for the lines before: a zero line carries no information.
    ADD CONSTRAINT journals_amount_check CHECK (amount_minor <> 0);

DROP TABLE ledger_entries;
DROP FUNCTION ledger_check_statement_balanced();

CREATE VIEW ledger_entries AS
SELECT j.id AS journal_id, l.line_no, l.account_id, j.currency, l.amount_minor
  FROM journals j
 CROSS JOIN LATERAL (VALUES (1::smallint, j.account_id, j.amount_minor),
                            (2::smallint, j.contra_account_id, -j.amount_minor))
       AS l (line_no, account_id, amount_minor);

CREATE FUNCTION journals_check_accounts() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    -- A batch names a few hundred accounts in thousands of journals: one
    -- probe per distinct account, not per journal.
    SELECT n.id, n.account_id, n.currency INTO bad
      FROM (SELECT min(u.id) AS id, u.account_id, u.currency
              FROM (SELECT id, account_id, currency FROM journals_new
                    UNION ALL SELECT id, contra_account_id, currency FROM journals_new) u
             GROUP BY u.account_id, u.currency) n
     WHERE NOT EXISTS (SELECT 1 FROM accounts a
                        WHERE a.account_id = n.account_id AND a.currency = n.currency)
     ORDER BY n.id, n.account_id
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal % refers to missing account "%" in %', bad.id,
              bad.account_id, bad.currency
              USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER journals_accounts_exist
    AFTER INSERT ON journals
    REFERENCING NEW TABLE AS journals_new
    FOR EACH STATEMENT EXECUTE FUNCTION journals_check_accounts();
