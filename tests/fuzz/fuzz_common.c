/*
 * Start-up shared by every fuzz target, under libFuzzer and under driver.c:
 * the target's own set-up, and -ps_seed_dir=DIR, which writes the target's
 * seeds as files into DIR so that a libFuzzer run can start from them
 * (libFuzzer reads its corpus directories after LLVMFuzzerInitialize).
 */
#include "fuzz.h"

#include <stdio.h>
#include <string.h>

#define SEED_PATH_BYTES_MAX 4096

__attribute__((weak)) void fuzz_setup(void)
{
}

__attribute__((weak)) void fuzz_seeds(fuzz_seed_fn fn, void *opaque)
{
    (void)fn;
    (void)opaque;
}

typedef struct seed_writer {
    const char *dir;
    int n;
} seed_writer_t;

static void write_seed(const uint8_t *data, size_t size, void *opaque)
{
    seed_writer_t *w = opaque;
    char path[SEED_PATH_BYTES_MAX];
    FILE *f;

    snprintf(path, sizeof(path), "%s/seed-%03d", w->dir, w->n++);
    f = fopen(path, "wb");
    if (f == NULL) {
        fprintf(stderr, "fuzz: could not write \"%s\"\n", path);
        return;
    }
    fwrite(data, 1, size, f);
    fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_setup();
    for (int i = 1; i < *argc; i++) {
        if (strncmp((*argv)[i], "-ps_seed_dir=", 13) == 0) {
            seed_writer_t w = {(*argv)[i] + 13, 0};
            fuzz_seeds(write_seed, &w);
        }
    }
    return 0;
}
