/*
 * Unit tests of the ingest request-file parser (ingest/reqfile.c) and of the
 * channel answers (ingest/answer.c). Goal: a well-formed capture parses to
 * exactly its method, path, trimmed headers and verbatim body; every
 * malformed, truncated, oversized or hostile file is refused with a message
 * naming the cause and never crashes; each channel's answers are exactly
 * what the channel counts as success or failure.
 */
#include "test.h"

#include "answer.h"
#include "reqfile.h"

#include <paystream/limits.h>
#include <paystream/mem.h>

#include <stdint.h>

static ps_err_t parse_str(const char *text, ingest_reqfile_t *rf, char *errstr, size_t n)
{
    memset(rf, 0, sizeof(*rf));
    return ingest_reqfile_parse((const uint8_t *)text, strlen(text), rf, errstr, n);
}

/* A CRLF capture: method, path without query, trimmed headers, exact body. */
static void test_parse_crlf(void)
{
    char errstr[PS_ERRSTR_SIZE] = "";
    ingest_reqfile_t rf;
    ingest_request_t req;
    const char *text = "POST /v1/notify/wechat?x=1 HTTP/1.1\r\n"
                       "Content-Type: application/json\r\n"
                       "Wechatpay-Nonce:   abc  \r\n"
                       "Content-Length: 11\r\n"
                       "\r\n"
                       "{\"a\":\"b\r\n\"}";

    CHECK_INT(parse_str(text, &rf, errstr, sizeof(errstr)), PS_OK);
    CHECK_STR(rf.method, "POST");
    CHECK_STR(rf.path, "/v1/notify/wechat");
    CHECK_INT(rf.header_count, 3);
    CHECK_STR(rf.headers[1].name, "Wechatpay-Nonce");
    CHECK_STR(rf.headers[1].value, "abc");
    CHECK_INT(rf.body_len, 11);
    CHECK(rf.body != NULL && memcmp(rf.body, "{\"a\":\"b\r\n\"}", 11) == 0);
    ingest_reqfile_request(&rf, 42, &req);
    CHECK_STR(ingest_request_header(&req, "wechatpay-nonce"), "abc");
    CHECK_INT(req.now_s, 42);
    ingest_reqfile_deinit(&rf);
}

/* Hand-edited LF files parse too; an empty body is fine without a length. */
static void test_parse_lf_and_empty_body(void)
{
    char errstr[PS_ERRSTR_SIZE] = "";
    ingest_reqfile_t rf;

    CHECK_INT(parse_str("POST /x HTTP/1.0\nA: b\n\n", &rf, errstr, sizeof(errstr)), PS_OK);
    CHECK_INT(rf.body_len, 0);
    CHECK_STR(rf.headers[0].value, "b");
    ingest_reqfile_deinit(&rf);
}

typedef struct bad_case {
    const char *text;
    ps_err_t err;
    const char *message;
} bad_case_t;

/* Each malformed capture is refused with a message that names the problem. */
static void test_parse_bad(void)
{
    static const bad_case_t cases[] = {
        {"", PS_ERR_INVALID, "empty request file"},
        {"garbage", PS_ERR_INVALID, "truncated head"},
        {"POST /x HTTP/1.1\r\nA: b\r\n", PS_ERR_INVALID, "truncated head"},
        {"POST /x\r\n\r\n", PS_ERR_INVALID, "not a request line"},
        {"POST x HTTP/1.1\r\n\r\n", PS_ERR_INVALID, "not a request line"},
        {"POST /x HTTP/2.0\r\n\r\n", PS_ERR_INVALID, "not a request line"},
        {"P(ST /x HTTP/1.1\r\n\r\n", PS_ERR_INVALID, "not a request line"},
        {"POST /x HTTP/1.1\r\nNoColon\r\n\r\n", PS_ERR_INVALID, "line 2: not a header"},
        {"POST /x HTTP/1.1\r\nBad Name: v\r\n\r\n", PS_ERR_INVALID, "line 2: not a header"},
        {"POST /x HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", PS_ERR_INVALID, "line 3: folded"},
        {"POST /x HTTP/1.1\r\nA: b\n\r\n", PS_ERR_INVALID, "line 2: mixed line endings"},
        {"POST /x HTTP/1.1\r\nA: b\x01\r\n\r\n", PS_ERR_INVALID, "control byte 0x01"},
        {"POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nabc", PS_ERR_INVALID,
         "Content-Length is 5 but the body has 3 bytes"},
        {"POST /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n", PS_ERR_INVALID,
         "invalid Content-Length"},
        {"POST /x HTTP/1.1\r\nContent-Length: 99999999999999\r\n\r\n", PS_ERR_INVALID,
         "invalid Content-Length"},
        {"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", PS_ERR_UNSUPPORTED,
         "Transfer-Encoding"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char errstr[PS_ERRSTR_SIZE] = "";
        ingest_reqfile_t rf;
        CHECK_INT(parse_str(cases[i].text, &rf, errstr, sizeof(errstr)), cases[i].err);
        CHECK_CONTAINS(errstr, cases[i].message);
        ingest_reqfile_deinit(&rf);
    }
}

/* Bounds: too many headers, a huge line, a body over the evidence bound. */
static void test_parse_bounds(void)
{
    char errstr[PS_ERRSTR_SIZE] = "";
    ingest_reqfile_t rf;
    ps_buf_t b;

    ps_buf_init(&b, PS_REQFILE_BYTES_MAX * 2);
    ps_buf_append_str(&b, "POST /x HTTP/1.1\r\n");
    for (int i = 0; i <= PS_HTTP_HEADERS_MAX; i++)
        ps_buf_appendf(&b, "H%d: v\r\n", i);
    ps_buf_append_str(&b, "\r\n");
    CHECK_INT(parse_str((const char *)b.data, &rf, errstr, sizeof(errstr)), PS_ERR_TOO_LARGE);
    CHECK_CONTAINS(errstr, "more than 128 headers");
    ingest_reqfile_deinit(&rf);

    ps_buf_reset(&b);
    ps_buf_append_str(&b, "POST /x HTTP/1.1\r\nA: ");
    for (int i = 0; i < PS_REQFILE_LINE_BYTES_MAX; i++)
        ps_buf_append_str(&b, "a");
    ps_buf_append_str(&b, "\r\n\r\n");
    CHECK_INT(parse_str((const char *)b.data, &rf, errstr, sizeof(errstr)), PS_ERR_TOO_LARGE);
    CHECK_CONTAINS(errstr, "line 2: longer than");
    ingest_reqfile_deinit(&rf);

    ps_buf_reset(&b);
    ps_buf_append_str(&b, "POST /x HTTP/1.1\r\n\r\n");
    for (int i = 0; i <= PS_EVIDENCE_BODY_BYTES_MAX; i++)
        ps_buf_append_str(&b, "b");
    CHECK_INT(parse_str((const char *)b.data, &rf, errstr, sizeof(errstr)), PS_ERR_TOO_LARGE);
    CHECK_CONTAINS(errstr, "exceeds 65536 bytes");
    ingest_reqfile_deinit(&rf);
    ps_buf_deinit(&b);
}

/* Every prefix of a valid capture either parses or fails cleanly. */
static void test_parse_every_prefix(void)
{
    const char *text = "POST /v1/notify/alipay HTTP/1.1\r\nContent-Type: a/b\r\nX: y\r\n\r\nk=v";
    size_t n = strlen(text), ok = 0;

    for (size_t len = 0; len <= n; len++) {
        char errstr[PS_ERRSTR_SIZE] = "";
        ingest_reqfile_t rf;
        uint8_t *copy = ps_memdup(text, len); /* exact length: ASan sees overreads */
        memset(&rf, 0, sizeof(rf));
        if (ingest_reqfile_parse(copy, len, &rf, errstr, sizeof(errstr)) == PS_OK)
            ok++;
        else
            CHECK(errstr[0] != '\0');
        ingest_reqfile_deinit(&rf);
        ps_free(copy);
    }
    CHECK_INT(ok, 4); /* the blank line plus 0..3 body bytes */
}

static void test_load_missing(void)
{
    char errstr[PS_ERRSTR_SIZE] = "";
    ingest_reqfile_t rf;

    memset(&rf, 0, sizeof(rf));
    CHECK_INT(ingest_reqfile_load("/nonexistent/req.http", &rf, errstr, sizeof(errstr)),
              PS_ERR_NOT_FOUND);
    CHECK_CONTAINS(errstr, "\"/nonexistent/req.http\"");
    ingest_reqfile_deinit(&rf);
}

/* The answers each channel expects (channels.md 1.1, 2.1, 3.1). */
static void test_answers(void)
{
    ingest_answer_t a;

    ingest_answer_make(PS_CHANNEL_WECHAT, INGEST_OUTCOME_SUCCESS, NULL, &a);
    CHECK_INT(a.status, 204);
    CHECK_INT(a.body_len, 0);
    ingest_answer_make(PS_CHANNEL_WECHAT, INGEST_OUTCOME_REJECTED, "bad_signature", &a);
    CHECK_INT(a.status, 400);
    CHECK_STR(a.body, "{\"code\":\"FAIL\",\"message\":\"bad_signature\"}");
    ingest_answer_make(PS_CHANNEL_WECHAT, INGEST_OUTCOME_REJECTED, "x\"}", &a);
    CHECK_STR(a.body, "{\"code\":\"FAIL\",\"message\":\"failure\"}");
    ingest_answer_make(PS_CHANNEL_WECHAT, INGEST_OUTCOME_UNAVAILABLE, NULL, &a);
    CHECK_INT(a.status, 503);
    ingest_answer_make(PS_CHANNEL_ALIPAY, INGEST_OUTCOME_SUCCESS, NULL, &a);
    CHECK_INT(a.status, 200);
    CHECK_STR(a.body, "success");
    CHECK_INT(a.body_len, 7);
    ingest_answer_make(PS_CHANNEL_ALIPAY, INGEST_OUTCOME_REJECTED, "bad_signature", &a);
    CHECK_INT(a.status, 200);
    CHECK_STR(a.body, "failure");
    ingest_answer_make(PS_CHANNEL_APPLE, INGEST_OUTCOME_SUCCESS, NULL, &a);
    CHECK_INT(a.status, 200);
    ingest_answer_make(PS_CHANNEL_APPLE, INGEST_OUTCOME_REJECTED, "bad_chain", &a);
    CHECK_INT(a.status, 500);
    ingest_answer_make(PS_CHANNEL_APPLE, INGEST_OUTCOME_TOO_LARGE, NULL, &a);
    CHECK_INT(a.status, 413);

    CHECK(ingest_answer_is_success(PS_CHANNEL_WECHAT, 200, (const uint8_t *)"FAIL", 4));
    CHECK(!ingest_answer_is_success(PS_CHANNEL_WECHAT, 500, NULL, 0));
    CHECK(ingest_answer_is_success(PS_CHANNEL_ALIPAY, 200, (const uint8_t *)"success", 7));
    CHECK(!ingest_answer_is_success(PS_CHANNEL_ALIPAY, 200, (const uint8_t *)"success\n", 8));
    CHECK(!ingest_answer_is_success(PS_CHANNEL_ALIPAY, 200, (const uint8_t *)"failure", 7));
    CHECK(ingest_answer_is_success(PS_CHANNEL_APPLE, 206, NULL, 0));
    CHECK(!ingest_answer_is_success(PS_CHANNEL_APPLE, 207, NULL, 0));
}

int main(void)
{
    RUN(test_parse_crlf);
    RUN(test_parse_lf_and_empty_body);
    RUN(test_parse_bad);
    RUN(test_parse_bounds);
    RUN(test_parse_every_prefix);
    RUN(test_load_missing);
    RUN(test_answers);
    return test_summary();
}
