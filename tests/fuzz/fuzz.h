/*
 * Shared declarations of the fuzz targets (tests/fuzz/fuzz_*.c). Each target
 * defines LLVMFuzzerTestOneInput; with clang it links libFuzzer, otherwise
 * driver.c supplies main() and a small deterministic mutator so the same
 * targets run in the test suite under gcc and the sanitizers. A target may
 * also define fuzz_seeds to hand the driver well-formed starting inputs
 * (for the verifiers: requests signed with keys generated at start-up).
 */
#ifndef PAYSTREAM_FUZZ_H
#define PAYSTREAM_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Defined in fuzz_common.c: calls fuzz_setup, then, given -ps_seed_dir=DIR
 * on the command line, writes the target's seeds into DIR (a libFuzzer
 * corpus directory named after it on the same command line). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
/* Optional one-time set-up of a target (keys, configuration). */
void fuzz_setup(void);

/* Called once per seed by fuzz_seeds; data borrowed for the call. */
typedef void (*fuzz_seed_fn)(const uint8_t *data, size_t size, void *opaque);
void fuzz_seeds(fuzz_seed_fn fn, void *opaque);

#endif
