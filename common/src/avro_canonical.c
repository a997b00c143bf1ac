/*
 * Parsing Canonical Form of an Avro schema (Avro specification, "Parsing
 * Canonical Form for Schemas"), which Avro-C 1.11.1 lacks. The schema JSON is
 * parsed with jansson and written back following the rules:
 *   PRIMITIVES  {"type":"int"} becomes "int" (logicalType and the like drop)
 *   FULLNAMES   names become full names; "namespace" attributes disappear
 *   STRIP       only name, type, fields, symbols, items, values, size survive
 *   ORDER       in exactly that order
 *   STRINGS     escapes are resolved (jansson does; every string written is a
 *               name validated as [A-Za-z_][A-Za-z0-9_]*, so none needs one)
 *   INTEGERS    fixed sizes without leading zeros or signs
 *   WHITESPACE  none outside strings
 * Named types are recorded as they are defined, so references (including a
 * record's reference to itself) resolve to a full name that exists, and an
 * unknown name is an error rather than a silent guess.
 */
#include "avro_int.h"

#include <paystream/assert.h>
#include <paystream/limits.h>
#include <paystream/mem.h>

#include <jansson.h>
#include <string.h>

typedef struct pcf {
    ps_buf_t *out;
    json_t *names; /* owned: object used as a set of defined full names */
    char *errstr;
    size_t errstr_size;
} pcf_t;

static ps_err_t walk(pcf_t *c, json_t *node, const char *ns, int depth);

static const char *const primitives[] = {"null", "boolean", "int",    "long",
                                         "float", "double", "bytes", "string"};

static bool is_primitive(const char *s)
{
    for (size_t i = 0; i < sizeof(primitives) / sizeof(primitives[0]); i++)
        if (strcmp(s, primitives[i]) == 0)
            return true;
    return false;
}

/* One name component: [A-Za-z_][A-Za-z0-9_]* of len bytes. */
static bool name_part_valid(const char *s, size_t len)
{
    if (len == 0 || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_';
        if (!ok)
            return false;
    }
    return true;
}

/* A dotted full name (or namespace): components separated by single dots. */
static bool fullname_valid(const char *s)
{
    const char *dot;

    while ((dot = strchr(s, '.')) != NULL) {
        if (!name_part_valid(s, (size_t)(dot - s)))
            return false;
        s = dot + 1;
    }
    return name_part_valid(s, strlen(s));
}

static ps_err_t emit(pcf_t *c, const char *s)
{
    if (ps_buf_append_str(c->out, s) != PS_OK)
        return ps_errstr_set(c->errstr, c->errstr_size, PS_ERR_TOO_LARGE,
                             "canonical form is longer than %zu bytes", c->out->max);
    return PS_OK;
}

/* Emits "s" as a JSON string; s is a validated name, so nothing needs escaping. */
static ps_err_t emit_quoted(pcf_t *c, const char *s)
{
    ps_err_t err = emit(c, "\"");

    if (err == PS_OK)
        err = emit(c, s);
    if (err == PS_OK)
        err = emit(c, "\"");
    return err;
}

/* Returns an owned "ns.name", or a copy of name when ns is the null namespace. */
static char *join_name(const char *ns, const char *name)
{
    size_t ns_len = strlen(ns), name_len = strlen(name);
    char *full;

    if (ns_len == 0)
        return ps_strdup(name);
    full = ps_malloc(ns_len + 1 + name_len + 1);
    memcpy(full, ns, ns_len);
    full[ns_len] = '.';
    memcpy(full + ns_len + 1, name, name_len + 1);
    return full;
}

static bool name_defined(pcf_t *c, const char *full)
{
    return json_object_get(c->names, full) != NULL;
}

/*
 * A type name used as a reference. As the specification says, a short name
 * belongs to the enclosing namespace; unlike Java's parser there is no
 * fallback to the null namespace (fastavro has none either).
 */
static ps_err_t emit_reference(pcf_t *c, const char *ref, const char *ns)
{
    char *full = NULL;
    ps_err_t err;

    if (!fullname_valid(ref)) {
        err = ps_errstr_set(c->errstr, c->errstr_size, PS_ERR_INVALID,
                            "invalid type name \"%.64s\"", ref);
        goto out;
    }
    full = strchr(ref, '.') != NULL ? ps_strdup(ref) : join_name(ns, ref);
    if (!name_defined(c, full)) {
        err = ps_errstr_set(c->errstr, c->errstr_size, PS_ERR_INVALID,
                            "unknown type name \"%.64s\"", ref);
        goto out;
    }
    err = emit_quoted(c, full);
out:
    ps_free(full);
    return err;
}

/*
 * Computes and records the full name of a named type (record, enum, fixed).
 * On PS_OK *full_out is owned by the caller and *space_out points into it
 * (its namespace, for nested definitions: "" for the null namespace, else
 * the full name truncated at its last dot, written into *space_out's copy).
 */
static ps_err_t define_name(pcf_t *c, json_t *node, const char *ns, char **full_out,
                            char **space_out)
{
    const char *name = json_string_value(json_object_get(node, "name"));
    json_t *space = json_object_get(node, "namespace");
    char *full, *dot;

    if (name == NULL)
        return ps_errstr_set(c->errstr, c->errstr_size, PS_ERR_INVALID,
                             "named type has no string \"name\"");
    if (space != NULL && !json_is_string(space) && !json_is_null(space))
        return ps_errstr_set(c->errstr, c->errstr_size, PS_ERR_INVALID,
                             "\"namespace\" of \"%.64s\" is not a string", name);
    if (strchr(name, '.') != NULL)
        full = ps_strdup(name);
    else
        full = join_name(json_is_string(space) ? json_string_value(space) : ns, name);
    if (!fullname_valid(full) || is_primitive(full)) {
        ps_errstr_set(c->errstr, c->errstr_size, PS_ERR_INVALID, "invalid type name \"%.64s\"",
                      full);
        ps_free(full);
        return PS_ERR_INVALID;
    }
    if (name_defined(c, full)) {
        ps_errstr_set(c->errstr, c->errstr_size, PS_ERR_INVALID,
                      "type name \"%.64s\" is defined twice", full);
        ps_free(full);
        return PS_ERR_INVALID;
    }
    json_object_set_new(c->names, full, json_true());
    *space_out = ps_strdup(full);
    dot = strrchr(*space_out, '.');
    if (dot != NULL)
        *dot = '\0';
    else
        (*space_out)[0] = '\0';
    *full_out = full;
    return PS_OK;
}

static ps_err_t walk_fields(pcf_t *c, json_t *fields, const char *ns, int depth)
{
    size_t i;
    json_t *field;
    ps_err_t err = emit(c, ",\"fields\":[");

    if (err != PS_OK)
        return err;
    json_array_foreach(fields, i, field)
    {
        const char *fname = json_string_value(json_object_get(field, "name"));
        json_t *ftype = json_object_get(field, "type");

        if (fname == NULL || !name_part_valid(fname, strlen(fname)) || ftype == NULL)
            return ps_errstr_set(c->errstr, c->errstr_size, PS_ERR_INVALID,
                                 "field %zu needs a valid \"name\" and a \"type\"", i);
        if ((i > 0 && (err = emit(c, ",")) != PS_OK) ||
            (err = emit(c, "{\"name\":")) != PS_OK || (err = emit_quoted(c, fname)) != PS_OK ||
            (err = emit(c, ",\"type\":")) != PS_OK ||
            (err = walk(c, ftype, ns, depth + 1)) != PS_OK || (err = emit(c, "}")) != PS_OK)
            return err;
    }
    return emit(c, "]");
}

static ps_err_t walk_symbols(pcf_t *c, json_t *symbols)
{
    size_t i;
    json_t *sym;
    ps_err_t err = emit(c, ",\"symbols\":[");

    json_array_foreach(symbols, i, sym)
    {
        const char *s = json_string_value(sym);

        if (err != PS_OK)
            return err;
        if (s == NULL || !name_part_valid(s, strlen(s)))
            return ps_errstr_set(c->errstr, c->errstr_size, PS_ERR_INVALID,
                                 "enum symbol %zu is not a valid name", i);
        if (i > 0)
            err = emit(c, ",");
        if (err == PS_OK)
            err = emit_quoted(c, s);
    }
    return err != PS_OK ? err : emit(c, "]");
}

/* record, error, enum, fixed: {"name":..,"type":..,<fields|symbols|size>}. */
static ps_err_t walk_named(pcf_t *c, json_t *node, const char *type, const char *ns, int depth)
{
    json_t *fields = json_object_get(node, "fields");
    json_t *symbols = json_object_get(node, "symbols");
    json_t *size = json_object_get(node, "size");
    bool is_record = strcmp(type, "record") == 0 || strcmp(type, "error") == 0;
    bool is_enum = strcmp(type, "enum") == 0;
    char *full = NULL, *space = NULL;
    char size_text[32];
    ps_err_t err;

    if ((is_record && !json_is_array(fields)) || (is_enum && !json_is_array(symbols)) ||
        (!is_record && !is_enum && (!json_is_integer(size) || json_integer_value(size) < 0)))
        return ps_errstr_set(c->errstr, c->errstr_size, PS_ERR_INVALID,
                             "%s needs %s", type,
                             is_record ? "a \"fields\" array"
                             : is_enum ? "a \"symbols\" array"
                                       : "a non-negative integer \"size\"");
    err = define_name(c, node, ns, &full, &space);
    if (err != PS_OK)
        return err;
    if ((err = emit(c, "{\"name\":")) != PS_OK || (err = emit_quoted(c, full)) != PS_OK ||
        (err = emit(c, ",\"type\":")) != PS_OK || (err = emit_quoted(c, type)) != PS_OK)
        goto out;
    if (is_record)
        err = walk_fields(c, fields, space, depth);
    else if (is_enum)
        err = walk_symbols(c, symbols);
    else {
        snprintf(size_text, sizeof(size_text), ",\"size\":%" JSON_INTEGER_FORMAT,
                 json_integer_value(size));
        err = emit(c, size_text);
    }
    if (err == PS_OK)
        err = emit(c, "}");
out:
    ps_free(space);
    ps_free(full);
    return err;
}

/* array and map: {"type":"array","items":..} / {"type":"map","values":..}. */
static ps_err_t walk_container(pcf_t *c, json_t *node, bool is_array, const char *ns, int depth)
{
    const char *key = is_array ? "items" : "values";
    json_t *inner = json_object_get(node, key);
    ps_err_t err;

    if (inner == NULL)
        return ps_errstr_set(c->errstr, c->errstr_size, PS_ERR_INVALID, "%s has no \"%s\"",
                             is_array ? "array" : "map", key);
    if ((err = emit(c, is_array ? "{\"type\":\"array\",\"items\":"
                                : "{\"type\":\"map\",\"values\":")) != PS_OK ||
        (err = walk(c, inner, ns, depth + 1)) != PS_OK)
        return err;
    return emit(c, "}");
}

static ps_err_t walk_object(pcf_t *c, json_t *node, const char *ns, int depth)
{
    const char *type = json_string_value(json_object_get(node, "type"));

    if (type == NULL)
        return ps_errstr_set(c->errstr, c->errstr_size, PS_ERR_INVALID,
                             "schema object has no string \"type\"");
    if (is_primitive(type))
        return emit_quoted(c, type);
    if (strcmp(type, "record") == 0 || strcmp(type, "error") == 0 ||
        strcmp(type, "enum") == 0 || strcmp(type, "fixed") == 0)
        return walk_named(c, node, type, ns, depth);
    if (strcmp(type, "array") == 0 || strcmp(type, "map") == 0)
        return walk_container(c, node, strcmp(type, "array") == 0, ns, depth);
    return emit_reference(c, type, ns);
}

static ps_err_t walk_union(pcf_t *c, json_t *node, const char *ns, int depth)
{
    size_t i;
    json_t *branch;
    ps_err_t err = emit(c, "[");

    json_array_foreach(node, i, branch)
    {
        if (err == PS_OK && i > 0)
            err = emit(c, ",");
        if (err == PS_OK)
            err = walk(c, branch, ns, depth + 1);
        if (err != PS_OK)
            return err;
    }
    return err != PS_OK ? err : emit(c, "]");
}

static ps_err_t walk(pcf_t *c, json_t *node, const char *ns, int depth)
{
    if (depth > PS_AVRO_SCHEMA_DEPTH_MAX)
        return ps_errstr_set(c->errstr, c->errstr_size, PS_ERR_INVALID,
                             "schema nests deeper than %d levels", PS_AVRO_SCHEMA_DEPTH_MAX);
    if (json_is_string(node)) {
        const char *s = json_string_value(node);

        return is_primitive(s) ? emit_quoted(c, s) : emit_reference(c, s, ns);
    }
    if (json_is_array(node))
        return walk_union(c, node, ns, depth);
    if (json_is_object(node))
        return walk_object(c, node, ns, depth);
    return ps_errstr_set(c->errstr, c->errstr_size, PS_ERR_INVALID,
                         "schema is neither a string, an array nor an object");
}

ps_err_t ps_avro_canonical_form(const char *json, size_t len, ps_buf_t *out, char *errstr,
                                size_t errstr_size)
{
    pcf_t c = {.out = out, .names = NULL, .errstr = errstr, .errstr_size = errstr_size};
    json_error_t jerr;
    json_t *root = NULL;
    ps_err_t err;

    PS_ASSERT(json != NULL || len == 0);
    PS_ASSERT(out != NULL);
    ps_buf_reset(out);
    if (len > PS_AVRO_SCHEMA_BYTES_MAX) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_TOO_LARGE,
                            "schema is %zu bytes, longer than the limit of %d", len,
                            PS_AVRO_SCHEMA_BYTES_MAX);
        goto out;
    }
    /* Duplicate keys would make "which name wins" depend on the parser. */
    root = json_loadb(json != NULL ? json : "", len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
                      &jerr);
    if (root == NULL) {
        err = ps_errstr_set(errstr, errstr_size, PS_ERR_INVALID,
                            "could not parse schema json: line %d column %d: %s", jerr.line,
                            jerr.column, jerr.text);
        goto out;
    }
    c.names = json_object();
    err = walk(&c, root, "", 0);
out:
    if (err != PS_OK)
        ps_buf_reset(out);
    json_decref(c.names);
    json_decref(root);
    return err;
}
