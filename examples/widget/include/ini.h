/* widget: a tiny INI parser.
 *
 * Parses "[section]" headers, "key = value" pairs, ';' and '#' comment lines, and blank lines.
 * Keys before the first header belong to the section "". Whitespace around names and values is
 * trimmed; a value may be wrapped in double quotes to keep leading/trailing spaces. Later
 * duplicates of a key override earlier ones. Lookups are case-insensitive, like most INI
 * readers. */
#ifndef WIDGET_INI_H
#define WIDGET_INI_H

#include <stddef.h>

typedef struct ini_entry {
    char *section;
    char *key;
    char *value;
} ini_entry;

typedef struct ini_doc {
    ini_entry *entries;
    size_t count;
    size_t capacity;
} ini_doc;

typedef enum ini_status {
    INI_OK = 0,
    INI_ERR_NOMEM,
    INI_ERR_SYNTAX, /* a line that is neither a header, a pair, a comment nor blank */
    INI_ERR_IO,
} ini_status;

typedef struct ini_error {
    ini_status status;
    int line; /* 1-based line of the first error; 0 when not tied to a line */
} ini_error;

/* Parses text (NUL-terminated) into doc, which must be zero-initialised or freed. On error doc
 * is left empty and err (if non-NULL) says what and where. */
ini_status ini_parse(const char *text, ini_doc *doc, ini_error *err);

/* Reads the whole file at path and parses it. */
ini_status ini_load(const char *path, ini_doc *doc, ini_error *err);

void ini_free(ini_doc *doc);

/* The value of section.key, or NULL. */
const char *ini_get(const ini_doc *doc, const char *section, const char *key);

/* The value parsed as a base-10 long; def when missing or not a whole number. */
long ini_get_long(const ini_doc *doc, const char *section, const char *key, long def);

/* true/yes/on/1 -> 1, false/no/off/0 -> 0, anything else (or missing) -> def. */
int ini_get_bool(const ini_doc *doc, const char *section, const char *key, int def);

const char *ini_status_str(ini_status status);

#endif
