/*
 * The HTTP answer each payment channel expects (channels.md sections 1.1,
 * 2.1, 3.1 and 4). The answer is the only thing a channel reads from us, and
 * it decides whether the channel retries, so it is built in one place:
 *
 *   outcome      WeChat                     Alipay                 Apple
 *   SUCCESS      204, no body               200 "success"          200, no body
 *   REJECTED     400 {"code":"FAIL",...}    200 "failure"          500 (retry)
 *   TOO_LARGE    413 {"code":"FAIL",...}    413 "failure"          413
 *   UNAVAILABLE  503 {"code":"FAIL",...}    503 "failure"          503 (retry)
 *
 * UNAVAILABLE means Kafka did not acknowledge (down, slow, queue full,
 * producer being recreated): the channel retries later and nothing was
 * acknowledged that is not in Kafka. Apple failures are 5xx because a 4xx may
 * get a single attempt (channels.md 3.1). WeChat's FAIL message is the
 * reject label only, never internal detail.
 */
#ifndef INGEST_ANSWER_H
#define INGEST_ANSWER_H

#include <paystream/event.h>
#include <paystream/limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum ingest_outcome {
    INGEST_OUTCOME_SUCCESS = 0,     /* in Kafka (or verified ACK_ONLY) */
    INGEST_OUTCOME_REJECTED = 1,    /* not verified / not acceptable */
    INGEST_OUTCOME_TOO_LARGE = 2,   /* body over http.body_bytes_max */
    INGEST_OUTCOME_UNAVAILABLE = 3  /* Kafka did not acknowledge; retry later */
} ingest_outcome_t;

typedef struct ingest_answer {
    unsigned status;                      /* HTTP status code */
    const char *content_type;             /* static; NULL when there is no body */
    char body[PS_HTTP_ANSWER_BYTES_MAX];  /* body_len bytes (NUL-terminated) */
    size_t body_len;
} ingest_answer_t;

/*
 * Fills out with channel's answer for outcome. label (borrowed; may be NULL)
 * is the reject label, used as WeChat's FAIL message when it is a plain
 * snake_case word; anything else becomes "failure". Never fails.
 * @locality any thread
 */
void ingest_answer_make(ps_channel_t channel, ingest_outcome_t outcome, const char *label,
                        ingest_answer_t *out);

/*
 * Whether the channel would count status and body (borrowed) as success, as
 * the channel itself decides: WeChat 200 or 204 whatever the body, Alipay
 * 200 with exactly the 7 bytes "success", Apple 200..206. Used by the
 * simulator's sender and by the tests.
 * @locality any thread
 */
bool ingest_answer_is_success(ps_channel_t channel, unsigned status, const uint8_t *body,
                              size_t body_len);

#endif
