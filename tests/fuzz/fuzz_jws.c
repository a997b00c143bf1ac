/*
 * Fuzz target: the compact-JWS decoder (ingest/jws.c) that Apple payloads
 * go through before any signature check: three base64url parts, header
 * JSON, alg, x5c entries. A refusal must carry a label and a message.
 */
#include "fuzz.h"

#include "jws.h"

#include <paystream/assert.h>
#include <paystream/limits.h>

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char errstr[PS_ERRSTR_SIZE];
    const char *label = NULL;
    ingest_jws_t jws;

    ingest_jws_init(&jws);
    errstr[0] = '\0';
    if (ingest_jws_parse((const char *)data, size, &jws, &label, errstr, sizeof(errstr)) ==
        PS_OK)
        PS_ASSERT(jws.cert_count == PS_X5C_CHAIN_CERTS && jws.signing_input_len < size);
    else
        PS_ASSERT(label != NULL && errstr[0] != '\0');
    ingest_jws_deinit(&jws);
    return 0;
}

void fuzz_seeds(fuzz_seed_fn fn, void *opaque)
{
    static const char *const seeds[] = {
        /* {"alg":"ES256","x5c":["AA==","AA==","AA=="]} . {} . 64 zero bytes */
        "eyJhbGciOiJFUzI1NiIsIng1YyI6WyJBQT09IiwiQUE9PSIsIkFBPT0iXX0.e30."
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "eyJhbGciOiJIUzI1NiJ9.e30.AA", "a.b.c", "..",
    };

    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
        fn((const uint8_t *)seeds[i], strlen(seeds[i]), opaque);
}
