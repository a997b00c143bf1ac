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

/*
 * The direct decoder (avro_direct.c): reads the Avro binary body (the len
 * bytes after the single-object header; borrowed, untrusted) of one record
 * straight into *ev / *cmd, in one pass and without Avro-C, with the limits
 * and verdicts of ps__avro_wire_check followed by the _from_value functions.
 * The struct's previous contents are ignored (not freed); it is zeroed first,
 * and on PS_OK its fields are owned by the caller. On failure it may hold part
 * of the record: the caller deinits it either way. PS_ERR_INVALID naming the
 * field and the byte offset (offset_base is where body sits in the message).
 * The contract checks (ps__avro_check_*) are the caller's. Thread-safe.
 */
ps_err_t ps__avro_direct_callback_event(const uint8_t *body, size_t len, size_t offset_base,
                                        ps_callback_event_t *ev, char *errstr,
                                        size_t errstr_size);
ps_err_t ps__avro_direct_ledger_command(const uint8_t *body, size_t len, size_t offset_base,
                                        ps_ledger_command_t *cmd, char *errstr,
                                        size_t errstr_size);

/*
 * Fingerprint of the schema whose field order avro_direct.c hard-codes;
 * ps_avro_codec_new refuses an embedded schema with another one.
 */
uint64_t ps__avro_direct_fingerprint(ps_avro_type_t type);

/*
 * The generic decoding path that the direct decoder replaced, kept so that
 * tests can compare the two: the same size, header and fingerprint checks,
 * then ps__avro_wire_check, avro_value_read into the codec's value, the
 * _from_value copy and the contract check. Contract and errors as
 * ps_avro_decode_callback_event / ps_avro_decode_ledger_command. The codec's
 * thread only.
 */
ps_err_t ps__avro_decode_callback_event_generic(ps_avro_codec_t *codec, const uint8_t *data,
                                                size_t len, ps_callback_event_t *ev_out,
                                                char *errstr, size_t errstr_size);
ps_err_t ps__avro_decode_ledger_command_generic(ps_avro_codec_t *codec, const uint8_t *data,
                                                size_t len, ps_ledger_command_t *cmd_out,
                                                char *errstr, size_t errstr_size);

#endif
