/*
 * Repeated member names (see json_int.h): the parser refuses an object
 * whose names repeat once unescaped. Names are hashed, then compared pair by
 * pair in small objects and sorted in larger ones (a merge sort ordering by
 * hash, then by bytes), so that the cost stays O(n log n) comparisons even
 * for names crafted to share a hash.
 */
#include "json_int.h"

#include <paystream/mem.h>

#include <string.h>

/* Objects with up to this many members are checked pair by pair. */
#define KEYS_PAIRWISE_MAX 8
/* Members whose sort arrays fit on the stack; larger objects allocate. */
#define KEYS_STACK_MAX 64

typedef struct key_ref {
    uint32_t hash; /* ps__json_str_hash of the name */
    uint32_t tok;  /* index of the name token */
} key_ref_t;

static int key_cmp(const ps_json_doc_t *doc, const key_ref_t *a, const key_ref_t *b)
{
    if (a->hash != b->hash)
        return a->hash < b->hash ? -1 : 1;
    return ps__json_str_cmp(doc, &doc->toks[a->tok], &doc->toks[b->tok]);
}

/* Stable bottom-up merge sort of k[0..n), tmp[0..n) as scratch. */
static void sort_keys(const ps_json_doc_t *doc, key_ref_t *k, key_ref_t *tmp, size_t n)
{
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, o = lo;

            while (i < mid && j < hi)
                tmp[o++] = key_cmp(doc, &k[j], &k[i]) < 0 ? k[j++] : k[i++];
            while (i < mid)
                tmp[o++] = k[i++];
            while (j < hi)
                tmp[o++] = k[j++];
        }
        memcpy(k, tmp, n * sizeof(*k));
    }
}

const ps_json_tok_t *ps__json_duplicate_key(const ps_json_doc_t *doc, const ps_json_tok_t *obj)
{
    key_ref_t on_stack[2 * KEYS_STACK_MAX], *k = on_stack;
    size_t n = obj->count;
    uint32_t t = (uint32_t)(obj - doc->toks) + 1;
    const ps_json_tok_t *dup = NULL;

    if (n > KEYS_STACK_MAX)
        k = ps_malloc(2 * n * sizeof(*k));
    for (size_t m = 0; m < n; m++, t = doc->toks[t + 1].next) {
        k[m].tok = t;
        k[m].hash = ps__json_str_hash(doc, &doc->toks[t]);
    }
    if (n <= KEYS_PAIRWISE_MAX) {
        for (size_t m = 1; m < n && dup == NULL; m++)
            for (size_t o = 0; o < m && dup == NULL; o++)
                if (key_cmp(doc, &k[o], &k[m]) == 0)
                    dup = &doc->toks[k[m].tok];
    } else {
        sort_keys(doc, k, k + n, n);
        /* Stable: of two equal names the later one comes second. */
        for (size_t m = 1; m < n && dup == NULL; m++)
            if (key_cmp(doc, &k[m - 1], &k[m]) == 0)
                dup = &doc->toks[k[m].tok];
    }
    if (k != on_stack)
        ps_free(k);
    return dup;
}
