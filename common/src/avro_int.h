/*
 * Private declarations shared by the avro_*.c files of libpaystream (the
 * public surface is paystream/avro.h). Names carry the ps__avro_ prefix.
 */
#ifndef PAYSTREAM_AVRO_INT_H
#define PAYSTREAM_AVRO_INT_H

#include <avro.h>
#include <paystream/avro.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * True when the len bytes at s are well-formed UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF) and contain no NUL byte.
 */
bool ps__avro_utf8_valid(const uint8_t *s, size_t len);

/*
 * The contract checks of ps_avro_validate_callback_event and
 * ps_avro_validate_ledger_command, with messages that name the field but not
 * the record type (each caller prefixes its own context).
 */
ps_err_t ps__avro_check_callback_event(const ps_callback_event_t *ev, char *errstr,
                                       size_t errstr_size);
ps_err_t ps__avro_check_ledger_command(const ps_ledger_command_t *cmd, char *errstr,
                                       size_t errstr_size);

/*
 * Walks the Avro binary body (the bytes after the single-object header;
 * borrowed, untrusted) against schema without allocating, so that Avro-C is
 * only handed bytes it can read without failing. Bounds: varints at most
 * PS_AVRO_VARINT_BYTES_MAX bytes, string and bytes lengths non-negative and
 * within the bytes left, strings UTF-8 without NUL, union branches and enum
 * indexes in range, array and map block counts non-negative and at most
 * PS_EVIDENCE_HEADERS_MAX items, nesting within PS_AVRO_SCHEMA_DEPTH_MAX, no
 * trailing bytes. PS_ERR_INVALID with the field and the byte offset (counted
 * from the message start: body_offset is where body sits in it) on failure.
 */
ps_err_t ps__avro_wire_check(avro_schema_t schema, const uint8_t *body, size_t len,
                             size_t body_offset, char *errstr, size_t errstr_size);

/*
 * Copy a struct into a generic Avro-C record value of its schema (after
 * validation), and back. The _from_value functions fill a zeroed struct whose
 * fields become owned by the caller; on failure the caller deinits it.
 * Avro-C failures are PS_ERR_INVALID with avro_strerror() in the message.
 */
ps_err_t ps__avro_callback_event_to_value(const ps_callback_event_t *ev, avro_value_t *rec,
                                          char *errstr, size_t errstr_size);
ps_err_t ps__avro_callback_event_from_value(avro_value_t *rec, ps_callback_event_t *ev,
                                            char *errstr, size_t errstr_size);
ps_err_t ps__avro_ledger_command_to_value(const ps_ledger_command_t *cmd, avro_value_t *rec,
                                          char *errstr, size_t errstr_size);
ps_err_t ps__avro_ledger_command_from_value(avro_value_t *rec, ps_ledger_command_t *cmd,
                                            char *errstr, size_t errstr_size);

#endif
