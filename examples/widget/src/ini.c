#include "ini.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strutil.h"

static void set_error(ini_error *err, ini_status status, int line)
{
    if (err != NULL) {
        err->status = status;
        err->line = line;
    }
}

static ini_entry *find(const ini_doc *doc, const char *section, const char *key)
{
    for (size_t i = 0; i < doc->count; i++) {
        ini_entry *e = &doc->entries[i];
        if (str_ieq(e->section, section) && str_ieq(e->key, key))
            return e;
    }
    return NULL;
}

static ini_status put(ini_doc *doc, const char *section, const char *key, const char *value)
{
    char *v = str_ndup(value, strlen(value));
    if (v == NULL)
        return INI_ERR_NOMEM;
    ini_entry *old = find(doc, section, key);
    if (old != NULL) {
        free(old->value);
        old->value = v;
        return INI_OK;
    }
    if (doc->count == doc->capacity) {
        size_t cap = doc->capacity ? doc->capacity * 2 : 8;
        ini_entry *grown = realloc(doc->entries, cap * sizeof *grown);
        if (grown == NULL) {
            free(v);
            return INI_ERR_NOMEM;
        }
        doc->entries = grown;
        doc->capacity = cap;
    }
    ini_entry *e = &doc->entries[doc->count];
    e->section = str_ndup(section, strlen(section));
    e->key = str_ndup(key, strlen(key));
    e->value = v;
    if (e->section == NULL || e->key == NULL) {
        free(e->section);
        free(e->key);
        free(v);
        return INI_ERR_NOMEM;
    }
    doc->count++;
    return INI_OK;
}

/* Removes one pair of surrounding double quotes, if present. */
static char *unquote(char *v)
{
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v[n - 1] = '\0';
        return v + 1;
    }
    return v;
}

static ini_status parse_line(ini_doc *doc, char *line, char **section)
{
    char *s = str_trim(line);
    if (*s == '\0' || *s == ';' || *s == '#')
        return INI_OK;
    if (*s == '[') {
        char *end = strchr(s, ']');
        if (end == NULL || end[1] != '\0')
            return INI_ERR_SYNTAX;
        *end = '\0';
        const char *trimmed = str_trim(s + 1);
        char *name = str_ndup(trimmed, strlen(trimmed));
        if (name == NULL)
            return INI_ERR_NOMEM;
        free(*section);
        *section = name;
        return INI_OK;
    }
    char *eq = strchr(s, '=');
    if (eq == NULL || eq == s)
        return INI_ERR_SYNTAX;
    *eq = '\0';
    char *key = str_trim(s);
    if (*key == '\0')
        return INI_ERR_SYNTAX;
    return put(doc, *section, key, unquote(str_trim(eq + 1)));
}

ini_status ini_parse(const char *text, ini_doc *doc, ini_error *err)
{
    memset(doc, 0, sizeof *doc);
    set_error(err, INI_OK, 0);
    char *section = str_ndup("", 0);
    if (section == NULL) {
        set_error(err, INI_ERR_NOMEM, 0);
        return INI_ERR_NOMEM;
    }
    ini_status st = INI_OK;
    int lineno = 0;
    const char *p = text;
    while (st == INI_OK && *p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *line = str_ndup(p, len);
        lineno++;
        if (line == NULL) {
            st = INI_ERR_NOMEM;
            break;
        }
        st = parse_line(doc, line, &section);
        free(line);
        p += len + (nl ? 1 : 0);
    }
    free(section);
    if (st != INI_OK) {
        set_error(err, st, lineno);
        ini_free(doc);
    }
    return st;
}

ini_status ini_load(const char *path, ini_doc *doc, ini_error *err)
{
    memset(doc, 0, sizeof *doc);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        set_error(err, INI_ERR_IO, 0);
        return INI_ERR_IO;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        len += fread(buf + len, 1, cap - len - 1, f);
        if (len < cap - 1)
            break;
        char *grown = realloc(buf, cap * 2);
        if (grown == NULL) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = grown;
        cap *= 2;
    }
    int failed = ferror(f);
    fclose(f);
    if (buf == NULL || failed) {
        free(buf);
        ini_status st = buf == NULL ? INI_ERR_NOMEM : INI_ERR_IO;
        set_error(err, st, 0);
        return st;
    }
    buf[len] = '\0';
    ini_status st = ini_parse(buf, doc, err);
    free(buf);
    return st;
}

void ini_free(ini_doc *doc)
{
    for (size_t i = 0; i < doc->count; i++) {
        free(doc->entries[i].section);
        free(doc->entries[i].key);
        free(doc->entries[i].value);
    }
    free(doc->entries);
    memset(doc, 0, sizeof *doc);
}

const char *ini_get(const ini_doc *doc, const char *section, const char *key)
{
    const ini_entry *e = find(doc, section, key);
    return e ? e->value : NULL;
}

long ini_get_long(const ini_doc *doc, const char *section, const char *key, long def)
{
    const char *v = ini_get(doc, section, key);
    if (v == NULL || *v == '\0')
        return def;
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno != 0 || *end != '\0')
        return def;
    return n;
}

int ini_get_bool(const ini_doc *doc, const char *section, const char *key, int def)
{
    const char *v = ini_get(doc, section, key);
    if (v == NULL)
        return def;
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (str_ieq(v, yes[i]))
            return 1;
        if (str_ieq(v, no[i]))
            return 0;
    }
    return def;
}

const char *ini_status_str(ini_status status)
{
    switch (status) {
    case INI_OK:
        return "ok";
    case INI_ERR_NOMEM:
        return "out of memory";
    case INI_ERR_SYNTAX:
        return "syntax error";
    case INI_ERR_IO:
        return "cannot read file";
    }
    return "unknown error";
}
