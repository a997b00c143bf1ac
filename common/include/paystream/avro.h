/*
 * The Avro wire contract of paystream: Parsing Canonical Form, the
 * CRC-64-AVRO (Rabin) schema fingerprint, and a codec that writes and reads
 * CallbackEvent and LedgerCommand in Avro single-object encoding:
 *
 *   C3 01 | 8-byte little-endian fingerprint of the schema's canonical form |
 *   Avro binary of the record
 *
 * The schemas are the .avsc files in schemas/avro, embedded in the library at build time
 * (paystream/schemas.h); nothing is read from disk at run time.
 *
 * Avro-C 1.11.1 does the schema parsing and the binary encoding. It allocates
 * unchecked lengths and leaks on failed reads, so it never reads untrusted
 * bytes: the decoder checks the header and the known fingerprint, then reads
 * the body in one bounds-checked pass straight into the struct
 * (common/src/avro_direct.c: every varint, length, union branch, enum index
 * and array count bounded, no trailing bytes), which also costs a quarter of
 * the Avro-C path. All strings must be valid UTF-8 without NUL bytes, in both
 * directions: they become C strings and PostgreSQL text.
 *
 * Threads: ps_avro_canonical_form, ps_avro_fingerprint64,
 * ps_avro_peek_fingerprint, ps_avro_type_name and the ps_avro_validate_*
 * functions are thread-safe. A codec holds mutable Avro-C values and must be
 * used by one thread at a time: create one codec per thread. Avro-C keeps its
 * error text in one global, unsynchronized buffer (Debian's libavro is built
 * without THREADSAFE), so codec errors raised on two threads at once may
 * garble each other's message text; the codes stay right.
 */
#ifndef PAYSTREAM_AVRO_H
#define PAYSTREAM_AVRO_H

#include <paystream/buf.h>
#include <paystream/err.h>
#include <paystream/event.h>
#include <stddef.h>
#include <stdint.h>

/* Single-object encoding header: two magic bytes and the fingerprint. */
#define PS_AVRO_MAGIC_0 0xC3
#define PS_AVRO_MAGIC_1 0x01
#define PS_AVRO_HEADER_BYTES 10

/* The message types the codec knows; a topic may carry both. */
typedef enum ps_avro_type {
    PS_AVRO_CALLBACK_EVENT = 0, /* paystream.CallbackEvent */
    PS_AVRO_LEDGER_COMMAND = 1  /* paystream.LedgerCommand */
} ps_avro_type_t;
#define PS_AVRO_TYPE_COUNT 2

typedef struct ps_avro_codec ps_avro_codec_t;

/*
 * Writes the Parsing Canonical Form of the schema JSON text json (len bytes,
 * need not be NUL-terminated; borrowed) into out, which is reset first
 * (borrowed; caller-initialized, its cap bounds the result: use
 * PS_AVRO_SCHEMA_BYTES_MAX). Input longer than PS_AVRO_SCHEMA_BYTES_MAX or
 * result beyond out's cap is PS_ERR_TOO_LARGE; malformed JSON, an invalid
 * name, an unknown type name or nesting deeper than PS_AVRO_SCHEMA_DEPTH_MAX
 * is PS_ERR_INVALID. Thread-safe.
 */
ps_err_t ps_avro_canonical_form(const char *json, size_t len, ps_buf_t *out, char *errstr,
                                size_t errstr_size);

/* CRC-64-AVRO (Rabin) fingerprint of len bytes at data (borrowed). Thread-safe. */
uint64_t ps_avro_fingerprint64(const void *data, size_t len);

/*
 * Fingerprint of a schema: ps_avro_fingerprint64 over its canonical form.
 * Errors as ps_avro_canonical_form. Thread-safe.
 */
ps_err_t ps_avro_schema_fingerprint(const char *json, size_t len, uint64_t *fp_out,
                                    char *errstr, size_t errstr_size);

/*
 * Reads the fingerprint from a single-object header without decoding the
 * rest. PS_ERR_INVALID when data (borrowed) is shorter than the header or the
 * magic bytes are not C3 01. Thread-safe.
 */
ps_err_t ps_avro_peek_fingerprint(const uint8_t *data, size_t len, uint64_t *fp_out);

/* "CallbackEvent" or "LedgerCommand" (static); "unknown" for other values. */
const char *ps_avro_type_name(ps_avro_type_t type);

/*
 * Creates a codec: parses the embedded schemas with Avro-C and computes their
 * fingerprints. *out is owned by the caller (ps_avro_codec_destroy). Fails
 * only if an embedded schema is broken (a build defect): PS_ERR_INVALID.
 * Any thread; the codec is then used by one thread at a time.
 */
ps_err_t ps_avro_codec_new(ps_avro_codec_t **out, char *errstr, size_t errstr_size);

/* Releases a codec; accepts NULL. */
void ps_avro_codec_destroy(ps_avro_codec_t *codec);

/* Fingerprint of the schema of message type type (as in the header). */
uint64_t ps_avro_codec_fingerprint(const ps_avro_codec_t *codec, ps_avro_type_t type);

/*
 * Tells which message type the single-object bytes data (borrowed) carry,
 * from the header alone, so that a consumer can dispatch. PS_ERR_INVALID for
 * a short or non-single-object header or "unknown schema fingerprint 0x...".
 */
ps_err_t ps_avro_codec_message_type(const ps_avro_codec_t *codec, const uint8_t *data,
                                    size_t len, ps_avro_type_t *type_out, char *errstr,
                                    size_t errstr_size);

/*
 * Checks a struct against the contract before it is encoded (the decoder
 * applies the same checks after decoding): required strings present,
 * non-empty where they are ids, within their limits.h bounds, valid UTF-8;
 * enums in range; currency three upper-case letters; evidence within
 * PS_EVIDENCE_* bounds. PS_ERR_INVALID naming the field. Thread-safe.
 */
ps_err_t ps_avro_validate_callback_event(const ps_callback_event_t *ev, char *errstr,
                                         size_t errstr_size);
ps_err_t ps_avro_validate_ledger_command(const ps_ledger_command_t *cmd, char *errstr,
                                         size_t errstr_size);

/*
 * Encodes ev (borrowed) as a single-object message into out (borrowed,
 * caller-initialized; reset first; its cap should be at least
 * PS_AVRO_MESSAGE_BYTES_MAX). PS_ERR_INVALID naming the field when ev breaks
 * the contract; PS_ERR_TOO_LARGE when the message would exceed
 * PS_AVRO_MESSAGE_BYTES_MAX or out's cap. The codec's thread only.
 */
ps_err_t ps_avro_encode_callback_event(ps_avro_codec_t *codec, const ps_callback_event_t *ev,
                                       ps_buf_t *out, char *errstr, size_t errstr_size);

/*
 * Decodes a single-object CallbackEvent from data (len bytes, borrowed,
 * untrusted) into ev_out, whose previous contents are ignored (not freed).
 * On PS_OK ev_out owns its fields (ps_callback_event_deinit); on failure it
 * is left zeroed. PS_ERR_INVALID for anything malformed, including a message
 * of the other type; PS_ERR_TOO_LARGE beyond PS_AVRO_MESSAGE_BYTES_MAX. The
 * codec's thread only.
 */
ps_err_t ps_avro_decode_callback_event(ps_avro_codec_t *codec, const uint8_t *data, size_t len,
                                       ps_callback_event_t *ev_out, char *errstr,
                                       size_t errstr_size);

/* The same pair for LedgerCommand (ps_ledger_command_deinit releases cmd_out). */
ps_err_t ps_avro_encode_ledger_command(ps_avro_codec_t *codec, const ps_ledger_command_t *cmd,
                                       ps_buf_t *out, char *errstr, size_t errstr_size);
ps_err_t ps_avro_decode_ledger_command(ps_avro_codec_t *codec, const uint8_t *data, size_t len,
                                       ps_ledger_command_t *cmd_out, char *errstr,
                                       size_t errstr_size);

#endif
