/* Runs every test and prints "N passed, M failed"; exits non-zero when any failed.
 * Usage: run-tests [DATA-DIR]   (default: tests/data) */
#include "check.h"

#include <stdio.h>

int check_failures;
const char *data_dir = "tests/data";

void test_trim(void);
void test_ndup(void);
void test_ieq(void);
void test_sections_and_keys(void);
void test_comments_quotes_and_overrides(void);
void test_typed_getters(void);
void test_syntax_errors(void);
void test_load_file(void);

static const struct {
    const char *name;
    void (*fn)(void);
} tests[] = {
    {"trim", test_trim},
    {"ndup", test_ndup},
    {"ieq", test_ieq},
    {"sections_and_keys", test_sections_and_keys},
    {"comments_quotes_and_overrides", test_comments_quotes_and_overrides},
    {"typed_getters", test_typed_getters},
    {"syntax_errors", test_syntax_errors},
    {"load_file", test_load_file},
};

int main(int argc, char **argv)
{
    if (argc > 1)
        data_dir = argv[1];
    int passed = 0, failed = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        check_failures = 0;
        tests[i].fn();
        if (check_failures == 0) {
            passed++;
        } else {
            failed++;
            printf("FAIL %s\n", tests[i].name);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
