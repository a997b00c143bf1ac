/*
 * Apple "statement": the App Store Server API transaction history
 * (GET /inApps/v2/history/{transactionId}, reference/channels.md 3.4), as one
 * response page or a JSON array of the pages in order. Apple has no
 * per-transaction settlement file, so the signed transactions are the
 * per-transaction truth; each is verified through expect->apple_verify (the
 * ingest's verifier) before anything of it is used.
 *
 * Completeness: every page but the last must say hasMore true and the last
 * must say false, otherwise pages are missing. All pages and transactions
 * must name the same bundleId (the merchant id) and environment; a
 * transactionId may appear once. Each transaction gives a payment row
 * (purchaseDate, price in milliunits converted exactly, originalTransactionId
 * as the order key like the ingest), and a refund row when it carries a
 * revocationDate inside the window (a later revocation belongs to a later
 * window and is left to it).
 */
#include "statement_int.h"

#include <paystream/mem.h>
#include <paystream/money.h>
#include <stdlib.h>
#include <string.h>

#define WHAT "apple history"

typedef struct apple_state {
    const recon_expect_t *expect;
    recon_stmt_meta_t *meta;
    recon_tally_t tally;
    recon_row_fn row_fn;
    void *opaque;
    const char *bundle_id, *environment; /* borrowed from the first page */
    char **ids;                          /* owned copies of transactionIds seen */
    size_t id_count;
    bool window_given;
    int64_t first_us, last_us; /* span of the rows, the window when none was given */
} apple_state_t;

/* One transaction's fields, borrowed from its payload. */
typedef struct apple_txn {
    const char *txn_id, *original_id, *bundle_id, *currency, *reason;
    json_int_t purchase_ms, price_milli, revocation_ms;
    bool revoked;
} apple_txn_t;

static ps_err_t txn_fields(json_t *p, int64_t n, apple_txn_t *t, char *errstr,
                           size_t errstr_size)
{
    json_t *rev = json_object_get(p, "revocationDate");
    memset(t, 0, sizeof(*t));
    if (json_unpack(p, "{s:s, s:s, s:s, s:I, s:I, s:s, s?s}", "transactionId", &t->txn_id,
                    "originalTransactionId", &t->original_id, "bundleId", &t->bundle_id,
                    "purchaseDate", &t->purchase_ms, "price", &t->price_milli, "currency",
                    &t->currency, "transactionReason", &t->reason) != 0 ||
        t->txn_id[0] == '\0' || strlen(t->txn_id) >= PS_ID_BYTES_MAX ||
        strlen(t->original_id) >= PS_ID_BYTES_MAX || t->purchase_ms < 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT " transaction %lld: lacks transactionId, "
                             "originalTransactionId, bundleId, purchaseDate, price or currency",
                             (long long)n);
    if (rev != NULL && (!json_is_integer(rev) || json_integer_value(rev) < t->purchase_ms))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT " transaction %lld: revocationDate is not a time after "
                             "purchaseDate",
                             (long long)n);
    t->revoked = rev != NULL;
    t->revocation_ms = t->revoked ? json_integer_value(rev) : 0;
    return PS_OK;
}

static ps_err_t emit(apple_state_t *st, recon_row_t *row, char *errstr, size_t errstr_size)
{
    ps_err_t err = recon_tally_add(&st->tally, row, WHAT, errstr, errstr_size);
    if (st->meta->rows == 1 || row->time_us < st->first_us)
        st->first_us = row->time_us;
    if (st->meta->rows == 1 || row->time_us > st->last_us)
        st->last_us = row->time_us;
    return err != PS_OK ? err : st->row_fn(row, st->opaque, errstr, errstr_size);
}

static bool in_window(const apple_state_t *st, int64_t us)
{
    return !st->window_given ||
           (us >= st->meta->window_start_us && us < st->meta->window_end_us);
}

/* Verifies one signed transaction and emits its rows. */
static ps_err_t transaction(apple_state_t *st, json_t *jws, int64_t n, char *errstr,
                            size_t errstr_size)
{
    json_t *payload = NULL;
    apple_txn_t t;
    recon_row_t row;
    ps_err_t err;

    if (!json_is_string(jws))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT " transaction %lld: not a JWS string", (long long)n);
    err = st->expect->apple_verify(st->expect->apple_verifier, json_string_value(jws),
                                   json_string_length(jws), &payload, errstr, errstr_size);
    if (err != PS_OK)
        return ps_errstr_prefix(errstr, errstr_size, err, WHAT " transaction %lld",
                                (long long)n);
    err = txn_fields(payload, n, &t, errstr, errstr_size);
    if (err == PS_OK && strcmp(t.bundle_id, st->bundle_id) != 0)
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                            WHAT " transaction %lld: bundleId \"%.64s\" differs from \"%.64s\"",
                            (long long)n, t.bundle_id, st->bundle_id);
    memset(&row, 0, sizeof(row));
    row.channel = PS_CHANNEL_APPLE;
    row.line_no = n;
    row.merchant_order_no = t.original_id;
    row.channel_txn_id = t.txn_id;
    row.time_us = (int64_t)t.purchase_ms * 1000;
    row.status = t.reason != NULL ? t.reason : "PURCHASE";
    if (err == PS_OK && (t.currency == NULL || strlen(t.currency) != 3))
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                            WHAT " transaction %lld: bad currency", (long long)n);
    if (err == PS_OK) {
        memcpy(row.currency, t.currency, 4);
        err = ps_money_from_milliunits(t.price_milli, row.currency, &row.amount_minor, errstr,
                                       errstr_size);
        if (err != PS_OK)
            ps_errstr_prefix(errstr, errstr_size, err, WHAT " transaction %lld: price",
                             (long long)n);
    }
    if (err == PS_OK && !in_window(st, row.time_us))
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                            WHAT " transaction %lld: purchaseDate %lld is outside the window",
                            (long long)n, (long long)t.purchase_ms);
    if (err == PS_OK)
        err = emit(st, &row, errstr, errstr_size);
    if (err == PS_OK && t.revoked && in_window(st, (int64_t)t.revocation_ms * 1000)) {
        row.kind = RECON_ROW_REFUND;
        row.refund_id = t.txn_id; /* Apple refunds have no id of their own */
        row.time_us = (int64_t)t.revocation_ms * 1000;
        row.status = "REVOKED";
        err = emit(st, &row, errstr, errstr_size);
    }
    if (err == PS_OK)
        st->ids[st->id_count++] = ps_strdup(t.txn_id);
    json_decref(payload);
    return err;
}

/* Checks one page's envelope and walks its transactions. */
static ps_err_t page(apple_state_t *st, json_t *pg, size_t index, bool last, int64_t *n,
                     char *errstr, size_t errstr_size)
{
    const char *bundle, *env;
    int more;
    json_t *txns;

    if (json_unpack(pg, "{s:s, s:s, s:b, s:o}", "bundleId", &bundle, "environment", &env,
                    "hasMore", &more, "signedTransactions", &txns) != 0 ||
        !json_is_array(txns))
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT " page %zu: lacks bundleId, environment, hasMore or "
                             "signedTransactions",
                             index + 1);
    if (st->bundle_id == NULL) {
        recon_slice_t b = {bundle, strlen(bundle)};
        ps_err_t err = recon_check_merchant(st->expect, st->meta, b, WHAT, (int64_t)index + 1,
                                            errstr, errstr_size);
        if (err != PS_OK)
            return err;
        st->bundle_id = bundle;
        st->environment = env;
    }
    if (strcmp(bundle, st->bundle_id) != 0 || strcmp(env, st->environment) != 0)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT " page %zu: bundleId or environment differs from page 1",
                             index + 1);
    if ((bool)more == last)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                             WHAT " page %zu: hasMore is %s on the %s page (%s)", index + 1,
                             more ? "true" : "false", last ? "last" : "not last",
                             last ? "pages are missing" : "pages out of order");
    size_t i;
    json_t *jws;
    json_array_foreach(txns, i, jws)
    {
        if (st->id_count >= PS_RECON_STATEMENT_ROWS_MAX)
            return ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                                 WHAT ": more than %d transactions", PS_RECON_STATEMENT_ROWS_MAX);
        ps_err_t err = transaction(st, jws, ++*n, errstr, errstr_size);
        if (err != PS_OK)
            return err;
    }
    return PS_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every transactionId once: a repeated one would count a payment twice. */
static ps_err_t check_unique(apple_state_t *st, char *errstr, size_t errstr_size)
{
    qsort(st->ids, st->id_count, sizeof(*st->ids), cmp_str);
    for (size_t i = 1; i < st->id_count; i++)
        if (strcmp(st->ids[i - 1], st->ids[i]) == 0)
            return ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                 WHAT ": transactionId \"%.64s\" appears twice", st->ids[i]);
    return PS_OK;
}

/* Total signed transactions over all pages (to size the id list). */
static size_t count_txns(json_t *pages)
{
    size_t total = 0, i;
    json_t *pg;
    json_array_foreach(pages, i, pg)
    {
        total += json_array_size(json_object_get(pg, "signedTransactions"));
    }
    return total;
}

ps_err_t recon_parse_apple_text(const char *text, size_t len, const recon_expect_t *expect,
                                recon_row_fn row_fn, void *opaque, recon_stmt_meta_t *meta,
                                char *errstr, size_t errstr_size)
{
    apple_state_t st = {.expect = expect, .meta = meta, .tally = {.meta = meta},
                        .row_fn = row_fn, .opaque = opaque};
    json_error_t jerr;
    json_t *root = NULL, *pages = NULL, *pg;
    int64_t n = 0;
    size_t i;
    ps_err_t err = PS_OK;

    if (expect == NULL || expect->apple_verify == NULL)
        return ps_errstr_set(errstr, errstr_size, PS_ERR_CONFIG,
                             WHAT ": no signed-transaction verifier configured");
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                            WHAT ": not JSON: line %d: %s", jerr.line, jerr.text);
        goto out;
    }
    pages = json_is_array(root) ? json_incref(root) : json_pack("[O]", root);
    if (json_array_size(pages) == 0 || !json_is_object(json_array_get(pages, 0))) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                            WHAT ": expected a history response or an array of them");
        goto out;
    }
    st.window_given = expect->has_window;
    if (st.window_given) {
        meta->window_start_us = expect->window_start_us;
        meta->window_end_us = expect->window_end_us;
    }
    st.ids = ps_calloc(count_txns(pages) + 1, sizeof(*st.ids));
    json_array_foreach(pages, i, pg)
    {
        err = json_is_object(pg) ? page(&st, pg, i, i + 1 == json_array_size(pages), &n, errstr,
                                        errstr_size)
                                 : ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                                                 WHAT " page %zu: not an object", i + 1);
        if (err != PS_OK)
            goto out;
    }
    err = check_unique(&st, errstr, errstr_size);
    if (err == PS_OK && !st.window_given && meta->rows > 0) {
        meta->window_start_us = st.first_us;
        meta->window_end_us = st.last_us + 1;
    }
    if (st.tally.currency_mixed)
        meta->currency[0] = '\0'; /* storefronts differ: no single currency */
out:
    for (size_t k = 0; k < st.id_count; k++)
        ps_free(st.ids[k]);
    ps_free(st.ids);
    json_decref(pages);
    json_decref(root);
    return err;
}
