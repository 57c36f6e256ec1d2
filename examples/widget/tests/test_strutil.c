#include "check.h"
#include "strutil.h"

#include <stdlib.h>

TEST(test_trim)
{
    char a[] = "  hello world \t\n";
    CHECK_STR(str_trim(a), "hello world");
    char b[] = "   ";
    CHECK_STR(str_trim(b), "");
    char c[] = "x";
    CHECK_STR(str_trim(c), "x");
}

TEST(test_ndup)
{
    char *s = str_ndup("abcdef", 3);
    CHECK_STR(s, "abc");
    free(s);
}

TEST(test_ieq)
{
    CHECK(str_ieq("Server", "sERVER"));
    CHECK(!str_ieq("server", "servers"));
    CHECK(!str_ieq("", "a"));
    CHECK(str_ieq("", ""));
}
