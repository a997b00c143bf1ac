/*
 * Fuzz target: the raw request-file parser (ingest/reqfile.c). Any input
 * must parse or fail with a message; never crash, leak or overread.
 */
#include "fuzz.h"

#include "reqfile.h"

#include <paystream/assert.h>
#include <paystream/limits.h>

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char errstr[PS_ERRSTR_SIZE];
    ingest_reqfile_t rf;

    memset(&rf, 0, sizeof(rf));
    errstr[0] = '\0';
    if (ingest_reqfile_parse(data, size, &rf, errstr, sizeof(errstr)) == PS_OK)
        PS_ASSERT(rf.method != NULL && rf.path != NULL && rf.body_len <= size);
    else
        PS_ASSERT(errstr[0] != '\0');
    ingest_reqfile_deinit(&rf);
    return 0;
}

void fuzz_seeds(fuzz_seed_fn fn, void *opaque)
{
    static const char *const seeds[] = {
        "POST /v1/notify/wechat HTTP/1.1\r\nContent-Type: application/json\r\n"
        "Content-Length: 2\r\n\r\n{}",
        "POST /v1/notify/alipay?a=b HTTP/1.0\nContent-Type: x\n\nk=v&x=%20",
        "GET / HTTP/1.1\r\nA:b\r\nB:  c \r\n\r\n",
    };

    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
        fn((const uint8_t *)seeds[i], strlen(seeds[i]), opaque);
}
