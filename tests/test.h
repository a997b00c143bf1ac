/*
 * A minimal test harness: each test program is one CTest test in its own
 * process. A test function states its goal in a comment and uses CHECK*; a
 * failed check prints file, line and the values, marks the test failed and
 * goes on, so one run shows every failure. main() calls RUN() per test and
 * returns test_summary(), which prints "N passed, N failed" and exits non-zero
 * when anything failed.
 *
 *   static void test_parse_cents(void) { CHECK_INT(parse("0.01"), 1); }
 *   int main(void) { RUN(test_parse_cents); return test_summary(); }
 */
#ifndef PAYSTREAM_TEST_H
#define PAYSTREAM_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failed_checks;
static int test_current_failed;
static int test_passed_count;
static int test_failed_count;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);     \
            test_failed_checks++;                                                        \
            test_current_failed = 1;                                                     \
        }                                                                                \
    } while (0)

#define CHECK_INT(actual, expected)                                                      \
    do {                                                                                 \
        long long a_ = (long long)(actual), e_ = (long long)(expected);                  \
        if (a_ != e_) {                                                                  \
            fprintf(stderr, "%s:%d: %s is %lld, expected %lld\n", __FILE__, __LINE__,    \
                    #actual, a_, e_);                                                    \
            test_failed_checks++;                                                        \
            test_current_failed = 1;                                                     \
        }                                                                                \
    } while (0)

#define CHECK_U64(actual, expected)                                                      \
    do {                                                                                 \
        uint64_t a_ = (uint64_t)(actual), e_ = (uint64_t)(expected);                     \
        if (a_ != e_) {                                                                  \
            fprintf(stderr, "%s:%d: %s is %" PRIu64 ", expected %" PRIu64 "\n",          \
                    __FILE__, __LINE__, #actual, a_, e_);                                \
            test_failed_checks++;                                                        \
            test_current_failed = 1;                                                     \
        }                                                                                \
    } while (0)

#define CHECK_STR(actual, expected)                                                      \
    do {                                                                                 \
        const char *a_ = (actual), *e_ = (expected);                                     \
        if (a_ == NULL || e_ == NULL ? a_ != e_ : strcmp(a_, e_) != 0) {                 \
            fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__,          \
                    __LINE__, #actual, a_ ? a_ : "(null)", e_ ? e_ : "(null)");          \
            test_failed_checks++;                                                        \
            test_current_failed = 1;                                                     \
        }                                                                                \
    } while (0)

/* Substring check, for error messages that must name their cause. */
#define CHECK_CONTAINS(haystack, needle)                                                 \
    do {                                                                                 \
        const char *h_ = (haystack), *n_ = (needle);                                     \
        if (h_ == NULL || strstr(h_, n_) == NULL) {                                      \
            fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__,         \
                    __LINE__, h_ ? h_ : "(null)", n_);                                   \
            test_failed_checks++;                                                        \
            test_current_failed = 1;                                                     \
        }                                                                                \
    } while (0)

/* Stops the current test function when a precondition fails. */
#define REQUIRE(cond)                                                                    \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: requirement failed: %s\n", __FILE__, __LINE__,       \
                    #cond);                                                              \
            test_failed_checks++;                                                        \
            test_current_failed = 1;                                                     \
            return;                                                                      \
        }                                                                                \
    } while (0)

#define RUN(fn)                                                                          \
    do {                                                                                 \
        test_current_failed = 0;                                                         \
        fn();                                                                            \
        if (test_current_failed) {                                                       \
            test_failed_count++;                                                         \
            fprintf(stderr, "FAIL %s\n", #fn);                                           \
        } else {                                                                         \
            test_passed_count++;                                                         \
            fprintf(stderr, "ok   %s\n", #fn);                                           \
        }                                                                                \
    } while (0)

static inline int test_summary(void)
{
    printf("%d passed, %d failed\n", test_passed_count, test_failed_count);
    return test_failed_count == 0 && test_failed_checks == 0 ? 0 : 1;
}

/*
 * Integration tests need the services started by scripts/services. Returns
 * the value of the environment variable, or prints why the test cannot run
 * and exits 1: an integration test never passes without its service.
 */
static inline const char *test_require_env(const char *name)
{
    const char *v = getenv(name);

    if (v == NULL || v[0] == '\0') {
        fprintf(stderr,
                "%s is not set: start the services with scripts/services start and "
                "source .run/env (scripts/test does both)\n",
                name);
        exit(1);
    }
    return v;
}

#endif
