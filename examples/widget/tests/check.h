/* A minimal test harness: CHECK records a failure and keeps going; TEST defines a case that
 * tests/main.c lists. */
#ifndef WIDGET_CHECK_H
#define WIDGET_CHECK_H

#include <stdio.h>
#include <string.h>

extern int check_failures; /* failed CHECKs in the current test */
extern const char *data_dir; /* directory holding the test fixtures */

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            check_failures++;                                                        \
        }                                                                            \
    } while (0)

#define CHECK_STR(got, want)                                                             \
    do {                                                                                 \
        const char *got_ = (got), *want_ = (want);                                       \
        if (got_ == NULL || strcmp(got_, want_) != 0) {                                  \
            fprintf(stderr, "  %s:%d: %s is \"%s\", want \"%s\"\n", __FILE__, __LINE__, \
                    #got, got_ ? got_ : "(null)", want_);                                \
            check_failures++;                                                            \
        }                                                                                \
    } while (0)

#define TEST(name) void name(void)

#endif
