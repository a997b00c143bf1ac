/*
 * Fuzz target: the strict form-urlencoded decoder (ingest/form.c) that
 * Alipay bodies go through before any signature check. A parsed form must
 * be sorted and its values findable; a refused one must say why.
 */
#include "fuzz.h"

#include "form.h"

#include <paystream/assert.h>
#include <paystream/limits.h>

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char errstr[PS_ERRSTR_SIZE];
    ingest_form_t form;

    ingest_form_init(&form);
    errstr[0] = '\0';
    if (ingest_form_parse((const char *)data, size, &form, errstr, sizeof(errstr)) == PS_OK) {
        for (size_t i = 0; i < form.count; i++)
            PS_ASSERT(ingest_form_find(&form, form.params[i].key) == &form.params[i]);
    } else {
        PS_ASSERT(errstr[0] != '\0');
    }
    ingest_form_deinit(&form);
    return 0;
}

void fuzz_seeds(fuzz_seed_fn fn, void *opaque)
{
    static const char *const seeds[] = {
        "a=1&b=2", "sign=abc%2B%2F%3D&sign_type=RSA2&charset=gbk&subject=%D6%D0",
        "passback_params=player_id%3D10086%26server%3Ds1&total_amount=6.48", "",
    };

    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
        fn((const uint8_t *)seeds[i], strlen(seeds[i]), opaque);
}
