/* Small string helpers used by the INI parser. */
#ifndef WIDGET_STRUTIL_H
#define WIDGET_STRUTIL_H

#include <stddef.h>

/* Trims ASCII whitespace from both ends of s in place; returns the new start. */
char *str_trim(char *s);

/* A malloc'd copy of the first n bytes of s, NUL-terminated; NULL when out of memory. */
char *str_ndup(const char *s, size_t n);

/* Case-insensitive ASCII equality. */
int str_ieq(const char *a, const char *b);

#endif
