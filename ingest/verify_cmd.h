/*
 * `paystream-ingest verify`: checks one captured callback offline, with the
 * same verifiers the service uses, for support staff handling a disputed
 * payment. The normalized event is printed as one JSON object; --at judges
 * timestamp windows and certificate validity as of an earlier moment.
 */
#ifndef INGEST_VERIFY_CMD_H
#define INGEST_VERIFY_CMD_H

#include <jansson.h>
#include <paystream/config.h>
#include <paystream/event.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Verifies the request file at request_path as a callback of channel_name
 * ("wechat", "alipay", "apple") with the verifiers configured by cfg (all
 * borrowed). On ACCEPT prints the event JSON to out and returns 0; on
 * ACK_ONLY prints {"verdict":"ack_only","reason":...} and returns 0; on
 * REJECT or any failure prints the reason to err and returns 1; an unknown
 * channel returns 2. The clock is at_s when has_at, else now.
 */
int ingest_verify_cmd(const ps_config_t *cfg, const char *channel_name, const char *request_path,
                      bool has_at, int64_t at_s, FILE *out, FILE *err);

/*
 * The event as a JSON object (owned by the caller: json_decref); raw_body is
 * included as text when it is valid UTF-8, else as base64 in raw_body_base64.
 * Shared with tests and the simulator. Returns NULL only for a NULL ev.
 */
json_t *ingest_event_to_json(const ps_callback_event_t *ev);

#endif
