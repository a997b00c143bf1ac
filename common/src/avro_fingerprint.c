/*
 * CRC-64-AVRO, the Rabin fingerprint the Avro specification defines for
 * schemas ("Schema Fingerprints"), and reading it back from a single-object
 * header. The 256-entry table is built once, thread-safely, on first use.
 */
#include "avro_int.h"

#include <paystream/assert.h>

#include <pthread.h>

/* The fingerprint of the empty string; also the polynomial's table seed. */
#define FP_EMPTY UINT64_C(0xc15d213aa4d7a795)

static uint64_t fp_table[256];
static pthread_once_t fp_table_once = PTHREAD_ONCE_INIT;

static void fp_table_build(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint64_t fp = i;

        for (int j = 0; j < 8; j++)
            fp = (fp >> 1) ^ (FP_EMPTY & (0 - (fp & 1)));
        fp_table[i] = fp;
    }
}

uint64_t ps_avro_fingerprint64(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t fp = FP_EMPTY;

    PS_ASSERT(data != NULL || len == 0);
    pthread_once(&fp_table_once, fp_table_build);
    for (size_t i = 0; i < len; i++)
        fp = (fp >> 8) ^ fp_table[(fp ^ p[i]) & 0xff];
    return fp;
}

ps_err_t ps_avro_schema_fingerprint(const char *json, size_t len, uint64_t *fp_out,
                                    char *errstr, size_t errstr_size)
{
    ps_buf_t canon;
    ps_err_t err;

    PS_ASSERT(fp_out != NULL);
    ps_buf_init(&canon, PS_AVRO_SCHEMA_BYTES_MAX);
    err = ps_avro_canonical_form(json, len, &canon, errstr, errstr_size);
    if (err != PS_OK)
        goto out;
    *fp_out = ps_avro_fingerprint64(canon.data, canon.len);
out:
    ps_buf_deinit(&canon);
    return err;
}

ps_err_t ps_avro_peek_fingerprint(const uint8_t *data, size_t len, uint64_t *fp_out)
{
    uint64_t fp = 0;

    PS_ASSERT(fp_out != NULL);
    if (data == NULL || len < PS_AVRO_HEADER_BYTES || data[0] != PS_AVRO_MAGIC_0 ||
        data[1] != PS_AVRO_MAGIC_1)
        return PS_ERR_INVALID;
    /* The specification fixes little-endian order, whatever the host's. */
    for (int i = 7; i >= 0; i--)
        fp = (fp << 8) | data[2 + i];
    *fp_out = fp;
    return PS_OK;
}
