/*
 * What the configuration module prints: the effective configuration with
 * credentials redacted (--check-config) and the Markdown reference of a
 * service's table (--config-doc, docs/CONFIGURATION.md). Both are
 * deterministic: the same table and values give the same bytes.
 */
#include "config_int.h"

#include <paystream/assert.h>
#include <paystream/limits.h>
#include <paystream/version.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Keys whose value is a credential even though their type is plain text. */
static bool is_sensitive(const char *name)
{
    char lower[PS_CONFIG_LINE_BYTES_MAX + 1];
    size_t i;

    for (i = 0; name[i] != '\0' && i < PS_CONFIG_LINE_BYTES_MAX; i++)
        lower[i] = name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] + 32) : name[i];
    lower[i] = '\0';
    return strstr(lower, "password") != NULL || strstr(lower, "secret") != NULL;
}

/* Writes text in file syntax, quoted when a bare value would not read back the same. */
static void dump_text(FILE *out, const char *text)
{
    if (text[0] != '\0' && strpbrk(text, " \t#'") == NULL) {
        fputs(text, out);
        return;
    }
    fputc('\'', out);
    for (const char *p = text; *p != '\0'; p++) {
        if (*p == '\'')
            fputc('\'', out);
        fputc(*p, out);
    }
    fputc('\'', out);
}

static void dump_key(const ps_config_t *cfg, size_t i, FILE *out)
{
    const ps_config_key_t *k = &cfg->table[i];
    const ps__config_value_t *v = &cfg->values[i];

    fprintf(out, "%s = ", k->name);
    if (k->type == PS_CONF_SECRET_FILE && v->secret != NULL)
        fprintf(out, "<secret from %s>", v->text);
    else if (k->type != PS_CONF_SECRET_FILE && is_sensitive(k->name))
        fputs("<redacted>", out);
    else if (k->type == PS_CONF_INT)
        fprintf(out, "%" PRId64, v->int_value);
    else if (k->type == PS_CONF_BOOL)
        fputs(v->bool_value ? "on" : "off", out);
    else
        dump_text(out, v->text);
    fprintf(out, "  # %s\n", v->source);
}

void ps_config_dump(const ps_config_t *cfg, FILE *out)
{
    PS_ASSERT(cfg != NULL && out != NULL);
    for (size_t i = 0; i < cfg->key_count; i++) {
        size_t shown = 0;

        if (cfg->table[i].type != PS_CONF_PASSTHROUGH) {
            dump_key(cfg, i, out);
            continue;
        }
        for (size_t j = 0; j < cfg->extra_count; j++) {
            const ps__config_extra_t *x = &cfg->extras[j];
            if (x->prefix_index != i)
                continue;
            fprintf(out, "%s = ", x->name);
            if (is_sensitive(x->name))
                fputs("<redacted>", out);
            else
                dump_text(out, x->text);
            fprintf(out, "  # %s\n", x->source);
            shown++;
        }
        if (shown == 0)
            fprintf(out, "# no %s* pass-through keys set\n", cfg->table[i].name);
    }
}

/* Appends s to a Markdown table cell: '|' would end the cell, line breaks the row. */
static ps_err_t md_cell(ps_buf_t *out, const char *s)
{
    ps_err_t err = PS_OK;

    for (; *s != '\0' && err == PS_OK; s++) {
        if (*s == '|')
            err = ps_buf_append_str(out, "\\|");
        else
            err = ps_buf_append(out, *s == '\n' ? " " : s, 1);
    }
    return err;
}

static const char *type_name(ps_config_type_t type)
{
    switch (type) {
    case PS_CONF_STRING: return "string";
    case PS_CONF_INT: return "integer";
    case PS_CONF_BOOL: return "boolean";
    case PS_CONF_ENUM: return "enum";
    case PS_CONF_SECRET_FILE: return "secret file";
    case PS_CONF_PASSTHROUGH: return "pass-through";
    }
    return "unknown";
}

/*
 * The default column. A default under the build's source tree is shown
 * relative to it, so the generated document does not depend on where the tree
 * was checked out.
 */
static ps_err_t md_default(ps_buf_t *out, const ps_config_key_t *k)
{
    size_t slen = strlen(PS_SOURCE_DIR);
    const char *d = k->default_value;
    ps_err_t err;

    if (k->type == PS_CONF_PASSTHROUGH)
        return PS_OK;
    if (d == NULL)
        return ps_buf_append_str(out, "*required*");
    if (d[0] == '\0')
        return ps_buf_append_str(out, k->type == PS_CONF_SECRET_FILE ? "*none*" : "`''`");
    err = ps_buf_append_str(out, "`");
    if (err == PS_OK && strncmp(d, PS_SOURCE_DIR, slen) == 0 && (d[slen] == '/' || !d[slen])) {
        err = ps_buf_append_str(out, "<source dir>");
        d += slen;
    }
    if (err == PS_OK)
        err = md_cell(out, d);
    return err == PS_OK ? ps_buf_append_str(out, "`") : err;
}

static ps_err_t md_range(ps_buf_t *out, const ps_config_key_t *k)
{
    ps_err_t err = PS_OK;

    if (k->type == PS_CONF_ENUM) {
        err = ps_buf_append_str(out, "`");
        for (const char *p = k->choices; *p != '\0' && err == PS_OK; p++)
            err = *p == '|' ? ps_buf_append_str(out, "`, `") : ps_buf_append(out, p, 1);
        return err == PS_OK ? ps_buf_append_str(out, "`") : err;
    }
    if (k->type == PS_CONF_INT) {
        if (k->min == INT64_MIN && k->max == INT64_MAX)
            err = ps_buf_append_str(out, "any");
        else if (k->max == INT64_MAX)
            err = ps_buf_appendf(out, "%" PRId64 " or more", k->min);
        else if (k->min == INT64_MIN)
            err = ps_buf_appendf(out, "%" PRId64 " or less", k->max);
        else
            err = ps_buf_appendf(out, "%" PRId64 " to %" PRId64, k->min, k->max);
    }
    if (err == PS_OK && k->unit != NULL)
        err = ps_buf_appendf(out, "%s%s", k->type == PS_CONF_INT ? " " : "", k->unit);
    return err;
}

static ps_err_t md_row(ps_buf_t *out, const ps_config_key_t *k)
{
    char var[PS_CONFIG_LINE_BYTES_MAX];
    bool pass = k->type == PS_CONF_PASSTHROUGH;
    ps_err_t err;

    ps__config_env_name(k->name, var, sizeof(var));
    err = ps_buf_appendf(out, "| `%s%s` | %s | ", k->name, pass ? "*" : "", type_name(k->type));
    if (err == PS_OK)
        err = md_default(out, k);
    if (err == PS_OK)
        err = ps_buf_append_str(out, " | ");
    if (err == PS_OK)
        err = md_range(out, k);
    if (err == PS_OK)
        err = ps_buf_appendf(out, " | `%s%s` | ", var, pass ? "*" : "");
    if (err == PS_OK)
        err = md_cell(out, k->description);
    return err == PS_OK ? ps_buf_append_str(out, " |\n") : err;
}

ps_err_t ps_config_write_markdown(const ps_config_key_t *table, size_t key_count,
                                  const char *service, ps_buf_t *out)
{
    ps_err_t err;

    PS_ASSERT(table != NULL && service != NULL && out != NULL);
    ps__config_check_table(table, key_count);
    err = ps_buf_appendf(out,
                         "## paystream-%s\n\n"
                         "| Key | Type | Default | Range / unit | Environment variable | "
                         "Description |\n"
                         "|---|---|---|---|---|---|\n",
                         service);
    for (size_t i = 0; i < key_count && err == PS_OK; i++)
        err = md_row(out, &table[i]);
    return err;
}
