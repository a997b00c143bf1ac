/*
 * A libFuzzer stand-in for compilers without -fsanitize=fuzzer (gcc): runs
 * a target over the files named on the command line and its own seeds, then
 * over a bounded number of deterministic mutations of them (byte flips,
 * insertions of syntax bytes, deletions, truncations, duplicated chunks).
 * Not coverage-guided: it is the short smoke run in the test suite; the
 * long runs use libFuzzer under clang (bench/fuzz).
 *
 *   fuzz_<target> [-runs=N] [-seed=S] [FILE...]
 */
#include "fuzz.h"

#include <paystream/mem.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DRIVER_SEEDS_MAX 256
#define DRIVER_INPUT_BYTES_MAX (256 * 1024)
#define DRIVER_MUTATIONS_MAX 6

typedef struct corpus {
    uint8_t *data[DRIVER_SEEDS_MAX];
    size_t len[DRIVER_SEEDS_MAX];
    size_t count;
} corpus_t;

static void add_seed(const uint8_t *data, size_t size, void *opaque)
{
    corpus_t *c = opaque;

    if (c->count >= DRIVER_SEEDS_MAX || size > DRIVER_INPUT_BYTES_MAX)
        return;
    c->data[c->count] = ps_memdup(data, size);
    c->len[c->count] = size;
    c->count++;
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

/* One mutation of buf[0..*len) in place (capacity DRIVER_INPUT_BYTES_MAX). */
static void mutate(uint8_t *buf, size_t *len, uint64_t *s)
{
    static const char syntax[] = "%=&\r\n.\"{}[],:\\0\xff\x80+/-_ ";
    size_t n = *len, pos = n > 0 ? (size_t)(rnd(s) % n) : 0;

    switch (rnd(s) % 6) {
    case 0: if (n > 0) buf[pos] ^= (uint8_t)(1u << (rnd(s) % 8)); break;
    case 1: if (n > 0) buf[pos] = (uint8_t)syntax[rnd(s) % (sizeof(syntax) - 1)]; break;
    case 2: /* insert a syntax byte */
        if (n < DRIVER_INPUT_BYTES_MAX) {
            memmove(buf + pos + 1, buf + pos, n - pos);
            buf[pos] = (uint8_t)syntax[rnd(s) % (sizeof(syntax) - 1)];
            *len = n + 1;
        }
        break;
    case 3: { /* delete a range */
        size_t k = n > pos ? 1 + (size_t)(rnd(s) % (n - pos < 16 ? n - pos : 16)) : 0;
        memmove(buf + pos, buf + pos + k, n - pos - k);
        *len = n - k;
        break;
    }
    case 4: *len = pos; break; /* truncate */
    default: { /* duplicate a chunk */
        size_t k = n > pos ? (size_t)(rnd(s) % (n - pos < 64 ? n - pos : 64)) : 0;
        if (n + k <= DRIVER_INPUT_BYTES_MAX) {
            memmove(buf + pos + k, buf + pos, n - pos);
            *len = n + k;
        }
        break;
    }
    }
}

static void load_file(corpus_t *c, const char *path)
{
    uint8_t *buf = ps_malloc(DRIVER_INPUT_BYTES_MAX);
    FILE *f = fopen(path, "rb");
    size_t n;

    if (f == NULL) {
        fprintf(stderr, "fuzz driver: could not open \"%s\"\n", path);
        exit(1);
    }
    n = fread(buf, 1, DRIVER_INPUT_BYTES_MAX, f);
    fclose(f);
    add_seed(buf, n, c);
    ps_free(buf);
}

int main(int argc, char **argv)
{
    corpus_t c = {.count = 0};
    long long runs = 2000;
    uint64_t s = 88172645463325252ULL;
    uint8_t *buf;

    LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "-runs=", 6) == 0)
            runs = strtoll(argv[i] + 6, NULL, 10);
        else if (strncmp(argv[i], "-seed=", 6) == 0)
            s ^= (uint64_t)strtoull(argv[i] + 6, NULL, 10);
        else if (argv[i][0] != '-')
            load_file(&c, argv[i]);
    }
    fuzz_seeds(add_seed, &c);
    if (c.count == 0)
        add_seed((const uint8_t *)"", 0, &c);
    buf = ps_malloc(DRIVER_INPUT_BYTES_MAX);
    for (size_t i = 0; i < c.count; i++) {
        /* An exact-size copy, so that the sanitizer sees any overread. */
        uint8_t *exact = ps_memdup(c.data[i], c.len[i]);
        LLVMFuzzerTestOneInput(exact, c.len[i]);
        ps_free(exact);
    }
    for (long long r = 0; r < runs; r++) {
        size_t k = (size_t)(rnd(&s) % c.count), len = c.len[k];
        uint8_t *exact;
        memcpy(buf, c.data[k], len);
        for (uint64_t m = 1 + rnd(&s) % DRIVER_MUTATIONS_MAX; m > 0; m--)
            mutate(buf, &len, &s);
        exact = ps_memdup(buf, len);
        LLVMFuzzerTestOneInput(exact, len);
        ps_free(exact);
    }
    printf("fuzz driver: %zu seeds, %lld mutated runs, no crash\n", c.count, runs);
    for (size_t i = 0; i < c.count; i++)
        ps_free(c.data[i]);
    ps_free(buf);
    return 0;
}
