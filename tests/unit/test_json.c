/*
 * The strict JSON reader (paystream/json.h): navigation and values of valid
 * documents, unescaping, every class of malformed text (truncation, garbage,
 * bad UTF-8, lone surrogates, leading zeros, huge numbers, deep nesting, too
 * many tokens, duplicate keys, trailing garbage), and agreement with jansson
 * (the parser it replaces on the ingest's hot paths) on acceptance.
 */
#include "test.h"

#include <paystream/json.h>
#include <paystream/mem.h>

#include <jansson.h>

static char errbuf[PS_ERRSTR_SIZE];

static ps_err_t parse_n(ps_json_doc_t *doc, const char *text, size_t len)
{
    return ps_json_parse(doc, text, len, PS_JSON_TOKENS_MAX, errbuf, sizeof(errbuf));
}

/* Whether jansson, with the flags the ingest used, accepts text[0..len). */
static bool jansson_accepts(const char *text, size_t len)
{
    json_error_t jerr;
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);

    json_decref(j);
    return j != NULL;
}

/* text must be refused with err, a message naming the offset, and jansson
 * must refuse it too (unless only our bounds refuse it). */
static bool refuses_n(const char *text, size_t len, ps_err_t err)
{
    ps_json_doc_t doc;
    ps_err_t got;
    bool ok;

    ps_json_doc_init(&doc);
    errbuf[0] = '\0';
    got = parse_n(&doc, text, len);
    ok = got == err && ps_json_root(&doc) == NULL && strstr(errbuf, "json") != NULL &&
         (err != PS_ERR_INVALID || !jansson_accepts(text, len));
    if (!ok)
        fprintf(stderr, "input \"%.*s\": got %d (%s)\n", (int)len, text, got, errbuf);
    ps_json_doc_deinit(&doc);
    return ok;
}

static bool refuses(const char *text)
{
    return refuses_n(text, strlen(text), PS_ERR_INVALID);
}

static bool accepts(const char *text)
{
    ps_json_doc_t doc;
    bool ok;

    ps_json_doc_init(&doc);
    ok = parse_n(&doc, text, strlen(text)) == PS_OK && ps_json_root(&doc) != NULL &&
         jansson_accepts(text, strlen(text));
    if (!ok)
        fprintf(stderr, "input \"%s\": %s\n", text, errbuf);
    ps_json_doc_deinit(&doc);
    return ok;
}

/* Goal: a typical payload is navigable: members, types, sizes, iteration. */
static void test_navigation(void)
{
    static const char text[] =
        " {\"a\": 1, \"b\": [true, false, null, -2, 3.5, \"x\"], \"c\": {\"d\": {}}, \"e\": []}\n";
    ps_json_doc_t doc;
    const ps_json_tok_t *root, *b, *e, *k;
    int64_t v = 0;
    bool flag = false;
    size_t n = 0;

    ps_json_doc_init(&doc);
    REQUIRE(parse_n(&doc, text, strlen(text)) == PS_OK);
    root = ps_json_root(&doc);
    CHECK(ps_json_is(root, PS_JSON_OBJECT));
    CHECK_INT(ps_json_size(root), 4);
    CHECK(ps_json_int(&doc, ps_json_get(&doc, root, "a"), &v) && v == 1);
    b = ps_json_get(&doc, root, "b");
    CHECK_INT(ps_json_size(b), 6);
    CHECK(ps_json_bool(ps_json_at(&doc, b, 0), &flag) && flag);
    CHECK(ps_json_bool(ps_json_at(&doc, b, 1), &flag) && !flag);
    CHECK(ps_json_is(ps_json_at(&doc, b, 2), PS_JSON_NULL));
    CHECK(ps_json_int(&doc, ps_json_at(&doc, b, 3), &v) && v == -2);
    CHECK(ps_json_is(ps_json_at(&doc, b, 4), PS_JSON_NUMBER));
    CHECK(!ps_json_int(&doc, ps_json_at(&doc, b, 4), &v)); /* a real is not an integer */
    CHECK(ps_json_str_eq(&doc, ps_json_at(&doc, b, 5), "x", 1));
    CHECK(ps_json_at(&doc, b, 6) == NULL);
    CHECK(ps_json_is(ps_json_get(&doc, ps_json_get(&doc, ps_json_get(&doc, root, "c"), "d"), "zz"),
                     0) == false);
    CHECK_INT(ps_json_size(ps_json_get(&doc, ps_json_get(&doc, root, "c"), "d")), 0);
    e = ps_json_get(&doc, root, "e");
    CHECK(ps_json_is(e, PS_JSON_ARRAY) && ps_json_first(&doc, e) == NULL);
    CHECK(ps_json_get(&doc, root, "z") == NULL);
    CHECK(ps_json_get(&doc, b, "a") == NULL); /* not an object */
    CHECK(ps_json_get(&doc, NULL, "a") == NULL);
    for (k = ps_json_first(&doc, root); k != NULL; k = ps_json_next(&doc, root, k))
        n++;
    CHECK_INT(n, 4);
    k = ps_json_first(&doc, root);
    CHECK(ps_json_str_eq(&doc, k, "a", 1));
    CHECK(ps_json_member_value(k) == ps_json_get(&doc, root, "a"));
    CHECK_INT(ps_json_size(ps_json_get(&doc, root, "a")), 0);
    CHECK(ps_json_type(NULL) == 0);
    ps_json_doc_deinit(&doc);
    CHECK(ps_json_root(&doc) == NULL);
}

/* Goal: strings are unescaped on access, zero-copy when they have no escapes. */
static void test_strings(void)
{
    static const char text[] = "[\"plain\", \"\\\"\\\\\\/\\b\\f\\n\\r\\t\", \"\\u00e9\\u20AC\","
                               " \"\\ud83d\\ude00\", \"caf\xc3\xa9\", \"\"]";
    ps_json_doc_t doc;
    const ps_json_tok_t *root;
    const char *s = NULL;
    char buf[32];
    size_t n = 0;
    ps_buf_t scratch;

    ps_json_doc_init(&doc);
    ps_buf_init(&scratch, 16);
    REQUIRE(parse_n(&doc, text, strlen(text)) == PS_OK);
    root = ps_json_root(&doc);
    CHECK_INT(ps_json_str_text(&doc, ps_json_at(&doc, root, 0), &scratch, &s, &n), PS_OK);
    CHECK(n == 5 && memcmp(s, "plain", 5) == 0 && s > text && s < text + sizeof(text));
    CHECK_INT(ps_json_str_copy(&doc, ps_json_at(&doc, root, 1), buf, sizeof(buf), &n), PS_OK);
    CHECK_INT(n, 8);
    CHECK_STR(buf, "\"\\/\b\f\n\r\t");
    CHECK_INT(ps_json_str_text(&doc, ps_json_at(&doc, root, 1), &scratch, &s, &n), PS_OK);
    CHECK(n == 8 && s == (const char *)scratch.data && memcmp(s, buf, 8) == 0);
    CHECK_INT(ps_json_str_copy(&doc, ps_json_at(&doc, root, 2), buf, sizeof(buf), &n), PS_OK);
    CHECK_STR(buf, "\xc3\xa9\xe2\x82\xac");
    CHECK(ps_json_str_eq(&doc, ps_json_at(&doc, root, 2), "\xc3\xa9\xe2\x82\xac", 5));
    CHECK(!ps_json_str_eq(&doc, ps_json_at(&doc, root, 2), "\xc3\xa9\xe2\x82", 4));
    CHECK_INT(ps_json_str_copy(&doc, ps_json_at(&doc, root, 3), buf, sizeof(buf), &n), PS_OK);
    CHECK_STR(buf, "\xf0\x9f\x98\x80");
    CHECK(ps_json_str_eq(&doc, ps_json_at(&doc, root, 4), "caf\xc3\xa9", 5));
    CHECK_INT(ps_json_str_copy(&doc, ps_json_at(&doc, root, 5), buf, sizeof(buf), &n), PS_OK);
    CHECK(n == 0 && buf[0] == '\0');
    /* Too small: the prefix stays for messages; the scratch cap bounds text. */
    CHECK_INT(ps_json_str_copy(&doc, ps_json_at(&doc, root, 0), buf, 4, &n), PS_ERR_TOO_LARGE);
    CHECK_STR(buf, "pla");
    CHECK_INT(ps_json_str_copy(&doc, ps_json_at(&doc, root, 0), buf, 6, &n), PS_OK);
    scratch.max = 4;
    CHECK_INT(ps_json_str_text(&doc, ps_json_at(&doc, root, 0), &scratch, &s, &n),
              PS_ERR_TOO_LARGE);
    CHECK_INT(ps_json_str_text(&doc, ps_json_at(&doc, root, 1), &scratch, &s, &n),
              PS_ERR_TOO_LARGE);
    /* Not a string. */
    CHECK_INT(ps_json_str_copy(&doc, root, buf, sizeof(buf), &n), PS_ERR_INVALID);
    CHECK_INT(ps_json_str_text(&doc, NULL, &scratch, &s, &n), PS_ERR_INVALID);
    CHECK(!ps_json_str_eq(&doc, root, "", 0));
    ps_buf_deinit(&scratch);
    ps_json_doc_deinit(&doc);
}

/* Goal: integers are exact over the whole int64 range; reals are not integers. */
static void test_numbers(void)
{
    static const struct {
        const char *text;
        bool integer;
        int64_t value;
    } cases[] = {{"0", true, 0},
                 {"-0", true, 0},
                 {"648", true, 648},
                 {"9223372036854775807", true, INT64_MAX},
                 {"-9223372036854775808", true, INT64_MIN},
                 {"1000000000000000000", true, INT64_C(1000000000000000000)},
                 {"0.0", false, 0},
                 {"648.0", false, 0},
                 {"1e2", false, 0},
                 {"1E+2", false, 0},
                 {"-1.5e-3", false, 0},
                 {"1e308", false, 0},
                 {"1.7976931348623157e308", false, 0},
                 {"1.7976931348623158e308", false, 0},
                 {"1e-400", false, 0},
                 {"0.00000e999999999999999", false, 0}};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ps_json_doc_t doc;
        int64_t v = -1;

        ps_json_doc_init(&doc);
        CHECK(accepts(cases[i].text));
        REQUIRE(parse_n(&doc, cases[i].text, strlen(cases[i].text)) == PS_OK);
        CHECK(ps_json_is(ps_json_root(&doc), PS_JSON_NUMBER));
        CHECK(ps_json_int(&doc, ps_json_root(&doc), &v) == cases[i].integer);
        if (cases[i].integer)
            CHECK_INT(v, cases[i].value);
        ps_json_doc_deinit(&doc);
    }
}

/* Goal: every proper prefix of a document is refused (truncation). */
static void test_truncation(void)
{
    static const char text[] =
        "{\"k\":[1,-2.5e3,\"s\\u00e9\\n\",true,false,null,{\"x\":{}}],"
        "\"\xc3\xa9\":\"\\ud83d\\ude00\"}";

    for (size_t n = 0; n < sizeof(text) - 1; n++)
        CHECK(refuses_n(text, n, PS_ERR_INVALID));
    CHECK(accepts(text));
}

/* Goal: garbage, bad literals and numbers outside the grammar are refused. */
static void test_garbage(void)
{
    static const char *const bad[] = {
        "", " ", "x", "{a:1}", "{'a':1}", "[1,]", "{\"a\":1,}", "[1 2]", "{\"a\" 1}",
        "{\"a\":}", "{,}", "[,1]", "nul", "tru", "True", "nulll", "NaN", "Infinity", "+1",
        ".5", "1.", "1.e3", "1e", "1e+", "-", "--1", "-a", "0x10", "01", "-01", "[00]",
        "[1]]", "{}}", "]", "}", "\xef\xbb\xbf{}", "[1,2", "{\"a\"", "\"abc", "[\"a\" \"b\"]",
        "{\"a\":1 \"b\":2}", "{1:2}", "[1:2]", "/* c */ {}", "{} // c",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(refuses(bad[i]));
    CHECK(refuses_n("[1]\0", 4, PS_ERR_INVALID));
    CHECK(refuses_n("[\"a\0\"]", 6, PS_ERR_INVALID));
    CHECK(accepts("  [ 1 , { } , [ ] , \"\" ]  \r\n\t"));
    CHECK(accepts("\"a scalar root\""));
    CHECK(accepts("null"));
}

/* Goal: strings must be valid UTF-8 without raw control characters and
 * with only RFC escapes; surrogates come in pairs; no \u0000. */
static void test_strings_refused(void)
{
    static const char *const bad[] = {
        "\"\xc3\"",             /* truncated sequence */
        "\"\xc3x\"",            /* bad continuation */
        "\"\xc0\xaf\"",         /* overlong */
        "\"\xe0\x80\xaf\"",     /* overlong 3-byte */
        "\"\xf0\x80\x80\xaf\"", /* overlong 4-byte */
        "\"\xed\xa0\x80\"",     /* UTF-8 encoded surrogate */
        "\"\xf4\x90\x80\x80\"", /* past U+10FFFF */
        "\"\xff\"", "\"\x80\"", "\"\xf5\x80\x80\x80\"",
        "\"a\x01\"", "\"\t\"", "\"\n\"", "\"\x1f\"",
        "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"", "\"\\U0041\"", "\"\\\"", "\"\\'\"",
        "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\ud800x\"",
        "\"\\ud800\\ud800\"", "\"\\ud800\\n\"", "\"\\u0000\"", "{\"\\u0000\":1}",
        "\"\xe2\x82\"", /* truncated at the end of the text */
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(refuses(bad[i]));
    CHECK(accepts("\"\x7f \xf4\x8f\xbf\xbf \xef\xbf\xbf \xed\x9f\xbf \\uDBFF\\uDFFF \\u0001\""));
    CHECK(ps_json_utf8_valid("caf\xc3\xa9", 5));
    CHECK(ps_json_utf8_valid("", 0));
    CHECK(!ps_json_utf8_valid("\xed\xa0\x80", 3));
    CHECK(!ps_json_utf8_valid("\xc3", 1));
}

/* Goal: integers beyond int64 and reals beyond a double are refused, as
 * jansson refuses them (its strtoll/strtod range errors). */
static void test_huge_numbers(void)
{
    static const char *const bad[] = {
        "9223372036854775808", "-9223372036854775809", "123456789012345678901234567890",
        "[99999999999999999999]", "1e309", "-1e309", "0.1e310", "1.7976931348623159e308",
        "179769313486231580793728971405303415079934132710037826936173778980444968292764750946"
        "649017977587207096330286416692887910946555547851940402630657488671505820681908902000"
        "708383676273854845817711531764475730270069855571366959622842914819860834936475292719"
        "074168444365510704342711559699508093042880177904174497792.0",
        "1e99999999999999999999",
    };
    ps_buf_t big;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(refuses(bad[i]));
    /* One below the exact overflow bound is DBL_MAX, not an overflow. */
    CHECK(accepts("179769313486231580793728971405303415079934132710037826936173778980444968292"
                  "764750946649017977587207096330286416692887910946555547851940402630657488671"
                  "505820681908902000708383676273854845817711531764475730270069855571366959622"
                  "842914819860834936475292719074168444365510704342711559699508093042880177904"
                  "174497791.9"));
    CHECK(accepts("0.000001797693134862315807937289714053034150799341327100378269361737789804449"
                  "e314"));
    ps_buf_init(&big, 4096);
    REQUIRE(ps_buf_append_str(&big, "1") == PS_OK);
    for (int i = 0; i < 400; i++)
        REQUIRE(ps_buf_append_str(&big, "0") == PS_OK);
    REQUIRE(ps_buf_append_str(&big, ".5") == PS_OK);
    CHECK(refuses((const char *)big.data));
    ps_buf_deinit(&big);
}

/* Goal: nesting is bounded by PS_JSON_DEPTH_MAX, as jansson bounds it. */
static void test_depth(void)
{
    char text[2 * PS_JSON_DEPTH_MAX + 3];
    size_t n = 0;

    for (int i = 0; i < PS_JSON_DEPTH_MAX; i++)
        text[n++] = '[';
    for (int i = 0; i < PS_JSON_DEPTH_MAX; i++)
        text[n++] = ']';
    text[n] = '\0';
    CHECK(accepts(text));
    memmove(text + 1, text, n + 1);
    text[0] = '[';
    text[n + 1] = ']';
    text[n + 2] = '\0';
    CHECK(refuses_n(text, n + 2, PS_ERR_TOO_LARGE));
    CHECK_CONTAINS(errbuf, "nesting");
    CHECK(!jansson_accepts(text, n + 2)); /* the same bound as jansson's */
}

/* Goal: the token bound holds; documents past the inline array use the heap. */
static void test_tokens(void)
{
    ps_json_doc_t doc;
    ps_buf_t text;
    int64_t v = 0;

    ps_json_doc_init(&doc);
    CHECK_INT(ps_json_parse(&doc, "[1,2]", 5, 3, errbuf, sizeof(errbuf)), PS_OK);
    CHECK_INT(ps_json_parse(&doc, "[1,2,3]", 7, 3, errbuf, sizeof(errbuf)), PS_ERR_TOO_LARGE);
    CHECK_CONTAINS(errbuf, "more than 3 values");
    CHECK(ps_json_root(&doc) == NULL);
    ps_buf_init(&text, 64 * 1024);
    REQUIRE(ps_buf_append_str(&text, "{\"list\":[") == PS_OK);
    for (int i = 0; i < 3000; i++)
        REQUIRE(ps_buf_appendf(&text, "%s%d", i ? "," : "", i) == PS_OK);
    REQUIRE(ps_buf_append_str(&text, "]}") == PS_OK);
    CHECK_INT(parse_n(&doc, (const char *)text.data, text.len), PS_OK);
    CHECK(doc.heap != NULL);
    CHECK_INT(doc.count, 3003); /* object, name, array, elements */
    CHECK(ps_json_int(&doc, ps_json_at(&doc, ps_json_get(&doc, ps_json_root(&doc), "list"), 2999),
                      &v) &&
          v == 2999);
    CHECK_INT(ps_json_parse(&doc, (const char *)text.data, text.len, 3002, errbuf, sizeof(errbuf)),
              PS_ERR_TOO_LARGE);
    /* A malformation past the inline array is still found. */
    text.data[text.len - 1] = ']';
    CHECK_INT(parse_n(&doc, (const char *)text.data, text.len), PS_ERR_INVALID);
    ps_buf_deinit(&text);
    ps_json_doc_deinit(&doc);
}

/* Goal: a repeated key is refused, compared after unescaping, in small and
 * large objects, at any depth; distinct keys are not. */
static void test_duplicates(void)
{
    static const char *const bad[] = {
        "{\"a\":1,\"a\":2}",
        "{\"a\":1,\"\\u0061\":2}",
        "{\"\\u0061\":1,\"\\u0061\":2}",
        "{\"x\":{\"b\":1,\"b\":1}}",
        "[{\"\":1,\"\":2}]",
        "{\"a\":1,\"b\":2,\"a\":3}",
        "{\"\\/\":1,\"/\":2}",
        "{\"\xc3\xa9\":1,\"\\u00e9\":2}",
    };
    ps_buf_t text;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(refuses(bad[i]));
    CHECK_CONTAINS(errbuf, "duplicate key");
    CHECK(accepts("{\"a\":1,\"A\":2,\"a \":3,\"\\u0062\":4,\"x\":{\"a\":5}}"));
    ps_buf_init(&text, 64 * 1024);
    for (int dup = 0; dup < 2; dup++) {
        ps_buf_reset(&text);
        REQUIRE(ps_buf_append_str(&text, "{") == PS_OK);
        for (int i = 0; i < 500; i++)
            REQUIRE(ps_buf_appendf(&text, "\"k%d\":%d,", i, i) == PS_OK);
        REQUIRE(ps_buf_appendf(&text, "\"%s\":0}", dup ? "k\\u0031\\u00377" : "k500") == PS_OK);
        if (dup)
            CHECK(refuses((const char *)text.data));
        else
            CHECK(accepts((const char *)text.data));
    }
    /* Names that share length, head and tail (one hash) still cost a sort,
     * not a comparison of every pair; a repeat among them is found. */
    for (int dup = 0; dup < 2; dup++) {
        ps_buf_reset(&text);
        REQUIRE(ps_buf_append_str(&text, "{") == PS_OK);
        for (int i = 0; i < 2000; i++)
            REQUIRE(ps_buf_appendf(&text, "\"aaaaaaaa%04dbbbbbbbb\":0,", i) == PS_OK);
        REQUIRE(ps_buf_appendf(&text, "\"aaaaaaaa%04dbbbbbbbb\":0}", dup ? 1234 : 2000) == PS_OK);
        if (dup)
            CHECK(refuses((const char *)text.data));
        else
            CHECK(accepts((const char *)text.data));
    }
    ps_buf_deinit(&text);
}

/* Goal: nothing but whitespace may follow the value. */
static void test_trailing(void)
{
    static const char *const bad[] = {"{} x", "{}{}", "[] ,", "1 2", "\"a\"\"b\"", "{}]",
                                      "null null", "{}\xc2\xa0"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(refuses(bad[i]));
    CHECK_CONTAINS(errbuf, "offset 2");
    CHECK(accepts("{} \n\r\t"));
}

/* Goal: the conformance payloads, as stored, parse as jansson parses them. */
static void test_conformance_files(void)
{
    static const char *const names[] = {
        "apple/model_signedNotification.json",
        "apple/model_signedTransaction.json",
        "apple/model_signedSummaryNotification.json",
        "wechat/go_notify_body.json",
        "wechat/go_notify_expected_plaintext.json",
        "wechat/java_download_certificates_response.json",
    };
    const char *src = getenv("PAYSTREAM_SOURCE_DIR");

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char path[4096], chunk[4096];
        ps_buf_t text;
        size_t n;
        FILE *f;

        snprintf(path, sizeof(path), "%s/../shared/conformance/%s", src ? src : ".", names[i]);
        f = fopen(path, "rb");
        if (f == NULL) {
            printf("SKIP: %s not readable\n", path);
            continue;
        }
        ps_buf_init(&text, 1024 * 1024);
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
            REQUIRE(ps_buf_append(&text, chunk, n) == PS_OK);
        fclose(f);
        CHECK(accepts((const char *)text.data));
        ps_buf_deinit(&text);
    }
}

int main(void)
{
    RUN(test_navigation);
    RUN(test_strings);
    RUN(test_numbers);
    RUN(test_truncation);
    RUN(test_garbage);
    RUN(test_strings_refused);
    RUN(test_huge_numbers);
    RUN(test_depth);
    RUN(test_tokens);
    RUN(test_duplicates);
    RUN(test_trailing);
    RUN(test_conformance_files);
    return test_summary();
}
