/*
 * Private declarations of the JSON reader (json.c parses, json_read.c reads
 * tokens, json_keys.c finds repeated member names): what the parser's
 * duplicate-key check borrows from the readers.
 */
#ifndef PAYSTREAM_JSON_INT_H
#define PAYSTREAM_JSON_INT_H

#include <paystream/json.h>

#include <stdbool.h>
#include <stdint.h>

/* A hash of the unescaped bytes of string token t (validated): equal
 * strings hash equal, whatever their escapes. */
uint32_t ps__json_str_hash(const ps_json_doc_t *doc, const ps_json_tok_t *t);

/* Order of the unescaped bytes of string tokens a and b (memcmp, then length). */
int ps__json_str_cmp(const ps_json_doc_t *doc, const ps_json_tok_t *a, const ps_json_tok_t *b);

/* The later of two members of object obj whose names are equal once
 * unescaped, or NULL (json_keys.c). O(n log n) name comparisons whatever the
 * names, so that crafted keys cannot make a document slow to refuse. */
const ps_json_tok_t *ps__json_duplicate_key(const ps_json_doc_t *doc, const ps_json_tok_t *obj);

#endif
