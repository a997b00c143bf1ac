/*
 * The direct decoder (common/src/avro_direct.c) against the generic path it
 * replaced (wire walk + Avro-C + avro_event.c, kept as
 * ps__avro_decode_*_generic):
 *   - round trip: events and commands built in C, encoded by the codec,
 *     decoded by both paths, give the original struct field by field;
 *   - differential: 200,000 mutated CallbackEvents and 50,000 mutated
 *     LedgerCommands (seeded, so a failure reproduces) get the same verdict
 *     and error code from both paths, and identical structs when accepted;
 *     plus every truncation of every base message;
 *   - padded varints: accepted as Avro-C accepts them, one byte more refused;
 *   (test_avro_direct_hostile.c: each kind of refusal names its field and
 *   byte offset; avro_direct_test.h: the writer, builders and mutations);
 *   - timing: ns per message of both paths on a benchmark-like event
 *     (printed, not asserted: the machine is shared).
 * Mutated messages live in exact-size heap copies, so the sanitizer build
 * catches any read past the end.
 */
#include "avro_direct_test.h"
#include "integration/proc_gen.h"

#include <paystream/assert.h>
#include <paystream/avro.h>
#include <paystream/buf.h>
#include <paystream/event.h>
#include <paystream/limits.h>
#include <paystream/mem.h>

#include <time.h>

/*
 * One count for every build type, sized for ASan + UBSan: the whole test took
 * 6-7.5 s there on the shared 2-core machine (its speed varies twofold), about
 * 1.3 s in Release. 200,000 of each took up to 11 s under ASan.
 */
#define EVENT_MUTANTS 200000
#define COMMAND_MUTANTS 50000
#define REPORTS_MAX 5             /* disagreements printed in full */
#define TIMING_ITERATIONS 10000
#define TIMING_BODY_BYTES 155     /* a typical CallbackEvent of the processor benchmark */
#define TIMING_SEARCH_MAX 100000  /* proc_gen events tried to find one of that size */


/* ------------------------------------------------------------ round trip */

/* Encodes ev, checks the writer agrees, decodes with all three entry points. */
static void roundtrip_event(const ps_callback_event_t *ev)
{
    char err[PS_ERRSTR_SIZE] = "";
    ps_callback_event_t direct, pub, generic;
    ps_buf_t out;
    wr_t w;
    const char *d;

    ps_buf_init(&out, PS_AVRO_MESSAGE_BYTES_MAX);
    REQUIRE(ps_avro_encode_callback_event(codec, ev, &out, err, sizeof(err)) == PS_OK);
    w_event(&w, ev);
    CHECK(w.buf.len == out.len && memcmp(w.buf.data, out.data, out.len) == 0);
    memset(&direct, 0xA5, sizeof(direct)); /* previous contents are ignored */
    CHECK_INT(ps__avro_direct_callback_event(out.data + PS_AVRO_HEADER_BYTES,
                                             out.len - PS_AVRO_HEADER_BYTES,
                                             PS_AVRO_HEADER_BYTES, &direct, err, sizeof(err)),
              PS_OK);
    CHECK_INT(ps_avro_decode_callback_event(codec, out.data, out.len, &pub, err, sizeof(err)),
              PS_OK);
    CHECK_INT(ps__avro_decode_callback_event_generic(codec, out.data, out.len, &generic, err,
                                                     sizeof(err)),
              PS_OK);
    if ((d = event_diff(&direct, ev, false)) != NULL)
        fprintf(stderr, "direct decode differs from the original in %s\n", d);
    CHECK(d == NULL);
    CHECK(event_diff(&pub, ev, false) == NULL);
    CHECK(event_diff(&direct, &generic, true) == NULL);
    ps_callback_event_deinit(&direct);
    ps_callback_event_deinit(&pub);
    ps_callback_event_deinit(&generic);
    ps_buf_deinit(&w.buf);
    ps_buf_deinit(&out);
}

/*
 * Every channel x kind x refund_id x refund total x paid time x {0, 1, 2,
 * 16} headers x {empty, 155-byte} body, and the 64 KiB body with all
 * optional fields absent or all present (the big body is what is slow under
 * ASan); int64 extremes in the amounts and times, maximum-length ids and a
 * 4 KiB header value in some.
 */
static void test_event_roundtrip(void)
{
    static const size_t header_counts[] = {0, 1, 2, PS_EVIDENCE_HEADERS_MAX};
    static const size_t body_lens[] = {0, 155, PS_EVIDENCE_BODY_BYTES_MAX};
    unsigned n = 0;

    for (int ch = 0; ch < PS_CHANNEL_COUNT; ch++)
        for (int kind = 0; kind < PS_EVENT_KIND_COUNT; kind++)
            for (int opt = 0; opt < 8; opt++)
                for (size_t h = 0; h < 4; h++)
                    for (size_t b = 0; b < 3; b++) {
                        shape_t s = {ch, kind, opt & 1, (opt >> 1) & 1, (opt >> 2) & 1,
                                     header_counts[h], body_lens[b], n, false};
                        ps_callback_event_t ev;

                        if (body_lens[b] == PS_EVIDENCE_BODY_BYTES_MAX && opt != 0 && opt != 7)
                            continue;
                        n++;
                        make_event(&ev, &s);
                        roundtrip_event(&ev);
                        ps_callback_event_deinit(&ev);
                    }
    fprintf(stderr, "round trip: %u events\n", n);
}

static void roundtrip_command(const ps_ledger_command_t *cmd)
{
    char err[PS_ERRSTR_SIZE] = "";
    ps_ledger_command_t direct, generic;
    ps_buf_t out;
    wr_t w;

    ps_buf_init(&out, PS_AVRO_MESSAGE_BYTES_MAX);
    REQUIRE(ps_avro_encode_ledger_command(codec, cmd, &out, err, sizeof(err)) == PS_OK);
    w_command(&w, cmd);
    CHECK(w.buf.len == out.len && memcmp(w.buf.data, out.data, out.len) == 0);
    CHECK_INT(ps_avro_decode_ledger_command(codec, out.data, out.len, &direct, err, sizeof(err)),
              PS_OK);
    CHECK_INT(ps__avro_decode_ledger_command_generic(codec, out.data, out.len, &generic, err,
                                                     sizeof(err)),
              PS_OK);
    CHECK(command_diff(&direct, cmd) == NULL);
    CHECK(command_diff(&direct, &generic) == NULL);
    ps_ledger_command_deinit(&direct);
    ps_ledger_command_deinit(&generic);
    ps_buf_deinit(&w.buf);
    ps_buf_deinit(&out);
}

/* Every kind x channel, with and without account, extremes, the longest reason. */
static void test_command_roundtrip(void)
{
    for (unsigned v = 0; v < 4 * EXTREMES; v++) {
        ps_ledger_command_t cmd;

        make_command(&cmd, v);
        roundtrip_command(&cmd);
        ps_ledger_command_deinit(&cmd);
    }
}

/* ---------------------------------------------------------- differential */

typedef struct tally {
    long compared, accepted, refused, same_message, disagreements;
} tally_t;

static void report(tally_t *t, const char *what, const uint8_t *data, size_t n,
                   const char *err_direct, const char *err_generic)
{
    if (t->disagreements++ >= REPORTS_MAX)
        return;
    fprintf(stderr, "%s: direct \"%s\", generic \"%s\"; message:", what, err_direct,
            err_generic);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, " %02x", data[i]);
    fprintf(stderr, "\n");
}

/* One decoded record of either type. */
typedef union record {
    ps_callback_event_t ev;
    ps_ledger_command_t cmd;
} record_t;

/* Decodes one message (an exact-size copy) as type, both ways, and tallies
 * the comparison. */
static void compare(tally_t *t, ps_avro_type_t type, const uint8_t *msg, size_t n)
{
    char err_d[PS_ERRSTR_SIZE] = "", err_g[PS_ERRSTR_SIZE] = "";
    bool ev = type == PS_AVRO_CALLBACK_EVENT;
    uint8_t *copy = ps_memdup(msg, n);
    record_t d, g;
    ps_err_t rc_d = ev ? ps_avro_decode_callback_event(codec, copy, n, &d.ev, err_d, sizeof(err_d))
                       : ps_avro_decode_ledger_command(codec, copy, n, &d.cmd, err_d,
                                                       sizeof(err_d));
    ps_err_t rc_g = ev ? ps__avro_decode_callback_event_generic(codec, copy, n, &g.ev, err_g,
                                                                 sizeof(err_g))
                       : ps__avro_decode_ledger_command_generic(codec, copy, n, &g.cmd, err_g,
                                                                 sizeof(err_g));
    const char *diff = NULL;

    t->compared++;
    if (rc_d == PS_OK && rc_g == PS_OK)
        diff = ev ? event_diff(&d.ev, &g.ev, true) : command_diff(&d.cmd, &g.cmd);
    if (rc_d != rc_g)
        report(t, "verdicts differ", msg, n, err_d, err_g);
    else if (diff != NULL)
        report(t, diff, msg, n, "accepted", "accepted");
    else if (rc_d == PS_OK)
        t->accepted++;
    else {
        t->refused++;
        t->same_message += strcmp(err_d, err_g) == 0;
    }
    if (rc_d != PS_OK && err_d[0] == '\0')
        report(t, "refusal without a message", msg, n, err_d, err_g);
    if (ev) {
        ps_callback_event_deinit(&d.ev);
        ps_callback_event_deinit(&g.ev);
    } else {
        ps_ledger_command_deinit(&d.cmd);
        ps_ledger_command_deinit(&g.cmd);
    }
    ps_free(copy);
}

static void compare_event(tally_t *t, const uint8_t *msg, size_t n)
{
    compare(t, PS_AVRO_CALLBACK_EVENT, msg, n);
}

static void compare_command(tally_t *t, const uint8_t *msg, size_t n)
{
    compare(t, PS_AVRO_LEDGER_COMMAND, msg, n);
}

typedef void (*compare_fn)(tally_t *t, const uint8_t *msg, size_t n);

/* Every truncation of every base, then `mutations` seeded mutants. */
static void differential(const char *what, const base_t *bases, size_t nbases, compare_fn cmp,
                         uint64_t seed, long mutations)
{
    tally_t trunc = {0}, mutants = {0};
    mut_t m;

    for (size_t i = 0; i < nbases; i++)
        for (size_t len = 0; len <= bases[i].m.n; len++)
            cmp(&trunc, bases[i].m.b, len);
    for (long k = 0; k < mutations; k++) {
        make_mutant(&seed, &bases[rng_below(&seed, nbases)], &m);
        cmp(&mutants, m.b, m.n);
    }
    printf("%s: truncations %ld compared (%ld accepted, %ld refused), mutants %ld compared "
           "(%ld accepted, %ld refused, %ld refusals with identical messages), "
           "%ld disagreements\n",
           what, trunc.compared, trunc.accepted, trunc.refused, mutants.compared,
           mutants.accepted, mutants.refused, mutants.same_message,
           trunc.disagreements + mutants.disagreements);
    CHECK_INT(trunc.disagreements, 0);
    CHECK_INT(mutants.disagreements, 0);
    CHECK_INT(trunc.accepted, (long)nbases); /* only the whole message */
    CHECK_INT(mutants.compared, mutations);
    /* Both verdicts must be well represented, or the comparison says little. */
    CHECK(mutants.accepted > mutations / 50);
    CHECK(mutants.refused > mutations / 2);
}

/* Varied small events: every channel and kind, optional fields, 0-16 headers. */
static void test_event_differential(void)
{
    /* Few headers keep mutants cheap; two bases reach the bound. */
    static const size_t header_counts[] = {0, 1, 2, 3, 0, PS_EVIDENCE_HEADERS_MAX};
    base_t *bases = ps_calloc(12, sizeof(*bases));

    for (unsigned i = 0; i < 12; i++) {
        shape_t s = {(int)(i % 3), (int)(i % 4), i % 2, (i / 2) % 2, (i / 4) % 2,
                     header_counts[i % 6], i % 5 == 0 ? 0 : 16, i * 2 + 1, true};
        ps_callback_event_t ev;
        wr_t w;

        make_event(&ev, &s);
        w_event(&w, &ev);
        base_from(&bases[i], &w);
        ps_buf_deinit(&w.buf);
        ps_callback_event_deinit(&ev);
    }
    differential("CallbackEvent", bases, 12, compare_event, UINT64_C(0x9E3779B97F4A7C15),
                 EVENT_MUTANTS);
    ps_free(bases);
}

static void test_command_differential(void)
{
    base_t *bases = ps_calloc(8, sizeof(*bases));

    for (unsigned i = 0; i < 8; i++) {
        ps_ledger_command_t cmd;
        wr_t w;

        make_command(&cmd, i == 3 ? 1 : i); /* not the 1 KiB reason: keep mutants small */
        w_command(&w, &cmd);
        base_from(&bases[i], &w);
        ps_buf_deinit(&w.buf);
        ps_ledger_command_deinit(&cmd);
    }
    differential("LedgerCommand", bases, 8, compare_command, UINT64_C(0xD1B54A32D192ED03),
                 COMMAND_MUTANTS);
    ps_free(bases);
}

/*
 * Padded varints (a long of up to 10 bytes, an int of up to 5) are legal
 * Avro that both paths accept; one byte more is refused by both.
 */
static void test_padded_varints(void)
{
    tally_t t = {0};
    ps_callback_event_t ev;
    shape_t s = {2, 3, true, true, true, 1, 3, 2, false};
    wr_t w;

    make_event(&ev, &s);
    w_event(&w, &ev);
    ps_callback_event_deinit(&ev);
    for (size_t i = 0; i < w.nv; i++) {
        size_t max = w.varint_kind[i] == V_INDEX ? 5 : PS_AVRO_VARINT_BYTES_MAX;

        for (size_t len = 1; len <= max + 1; len++) {
            mut_t m;
            size_t old;
            uint8_t enc[16];
            uint64_t u = 0;

            memcpy(m.b, w.buf.data, w.buf.len);
            m.n = w.buf.len;
            old = varint_len(&m, w.varint_pos[i]);
            for (size_t k = 0; k < old; k++)
                u |= (uint64_t)(m.b[w.varint_pos[i] + k] & 0x7F) << (7 * k);
            if (len < old)
                continue;
            splice(&m, w.varint_pos[i], old, enc, encode_padded(u, len, enc));
            tally_t before = t;
            compare_event(&t, m.b, m.n);
            CHECK(len <= max ? t.accepted == before.accepted + 1
                             : t.refused == before.refused + 1);
        }
    }
    CHECK_INT(t.disagreements, 0);
    ps_buf_deinit(&w.buf);
}

/* ---------------------------------------------------------------- timing */

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * An event of the processor benchmark (tests/integration/proc_gen.h: no
 * headers, a short JSON body) whose Avro body is TIMING_BODY_BYTES, decoded
 * TIMING_ITERATIONS times by each path. Prints ns per message; no assertion
 * (shared machine, any build type).
 */
static void test_timing(void)
{
    char err[PS_ERRSTR_SIZE] = "";
    proc_gen_t g = {.seed = 7};
    ps_callback_event_t ev;
    ps_buf_t out;
    int64_t t0, direct_ns, generic_ns;

    ps_buf_init(&out, PS_AVRO_MESSAGE_BYTES_MAX);
    for (int64_t j = 0; j < TIMING_SEARCH_MAX; j++) { /* proc_gen's bodies are 137-162 bytes */
        proc_gen_fill(&g, j, j % 3, &ev);
        REQUIRE(ps_avro_encode_callback_event(codec, &ev, &out, err, sizeof(err)) == PS_OK);
        ps_callback_event_deinit(&ev);
        if (out.len - PS_AVRO_HEADER_BYTES == TIMING_BODY_BYTES)
            break;
    }
    REQUIRE(out.len - PS_AVRO_HEADER_BYTES == TIMING_BODY_BYTES);
    t0 = now_ns();
    for (int i = 0; i < TIMING_ITERATIONS; i++) {
        CHECK(ps_avro_decode_callback_event(codec, out.data, out.len, &ev, err, sizeof(err)) ==
              PS_OK);
        ps_callback_event_deinit(&ev);
    }
    direct_ns = (now_ns() - t0) / TIMING_ITERATIONS;
    t0 = now_ns();
    for (int i = 0; i < TIMING_ITERATIONS; i++) {
        CHECK(ps__avro_decode_callback_event_generic(codec, out.data, out.len, &ev, err,
                                                     sizeof(err)) == PS_OK);
        ps_callback_event_deinit(&ev);
    }
    generic_ns = (now_ns() - t0) / TIMING_ITERATIONS;
    printf("decode of a %zu-byte-body CallbackEvent (decode + deinit, %d runs each): direct "
           "%" PRId64 " ns/message, generic %" PRId64 " ns/message (%" PRId64 ".%" PRId64
           "x)\n",
           out.len - PS_AVRO_HEADER_BYTES, TIMING_ITERATIONS, direct_ns, generic_ns,
           generic_ns / (direct_ns ? direct_ns : 1),
           generic_ns * 10 / (direct_ns ? direct_ns : 1) % 10);
    ps_buf_deinit(&out);
}

/* The codec was created, so the embedded schemas are the ones avro_direct.c reads. */
static void test_schema_fingerprints(void)
{
    CHECK_U64(ps__avro_direct_fingerprint(PS_AVRO_CALLBACK_EVENT),
              ps_avro_codec_fingerprint(codec, PS_AVRO_CALLBACK_EVENT));
    CHECK_U64(ps__avro_direct_fingerprint(PS_AVRO_LEDGER_COMMAND),
              ps_avro_codec_fingerprint(codec, PS_AVRO_LEDGER_COMMAND));
}

int main(void)
{
    char err[PS_ERRSTR_SIZE] = "";

    if (ps_avro_codec_new(&codec, err, sizeof(err)) != PS_OK) {
        fprintf(stderr, "could not create codec: %s\n", err);
        return 1;
    }
    RUN(test_schema_fingerprints);
    RUN(test_event_roundtrip);
    RUN(test_command_roundtrip);
    RUN(test_padded_varints);
    RUN(test_event_differential);
    RUN(test_command_differential);
    RUN(test_timing);
    ps_avro_codec_destroy(codec);
    return test_summary();
}
