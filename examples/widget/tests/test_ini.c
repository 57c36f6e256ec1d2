#include "check.h"
#include "ini.h"

#include <stdio.h>

TEST(test_sections_and_keys)
{
    ini_doc doc;
    const char *text = "name = widget\n"
                       "[server]\n"
                       "host = example.org\n"
                       "port=8080\n"
                       "\n"
                       "[ client ]\n"
                       "retries = 3\n";
    CHECK(ini_parse(text, &doc, NULL) == INI_OK);
    CHECK(doc.count == 4);
    CHECK_STR(ini_get(&doc, "", "name"), "widget");
    CHECK_STR(ini_get(&doc, "server", "host"), "example.org");
    CHECK_STR(ini_get(&doc, "SERVER", "Port"), "8080");
    CHECK(ini_get_long(&doc, "client", "retries", -1) == 3);
    CHECK(ini_get(&doc, "client", "host") == NULL);
    ini_free(&doc);
}

TEST(test_comments_quotes_and_overrides)
{
    ini_doc doc;
    const char *text = "; a comment\n"
                       "# another\n"
                       "[s]\n"
                       "greeting = \"  spaced  \"\n"
                       "k = first\n"
                       "k = second\n"
                       "empty =\n"
                       "eq = a=b\n";
    CHECK(ini_parse(text, &doc, NULL) == INI_OK);
    CHECK_STR(ini_get(&doc, "s", "greeting"), "  spaced  ");
    CHECK_STR(ini_get(&doc, "s", "k"), "second");
    CHECK_STR(ini_get(&doc, "s", "empty"), "");
    CHECK_STR(ini_get(&doc, "s", "eq"), "a=b");
    ini_free(&doc);
}

TEST(test_typed_getters)
{
    ini_doc doc;
    const char *text = "[t]\n"
                       "n = -42\n"
                       "bad = 12x\n"
                       "on = Yes\n"
                       "off = 0\n"
                       "maybe = perhaps\n";
    CHECK(ini_parse(text, &doc, NULL) == INI_OK);
    CHECK(ini_get_long(&doc, "t", "n", 0) == -42);
    CHECK(ini_get_long(&doc, "t", "bad", 7) == 7);
    CHECK(ini_get_long(&doc, "t", "missing", 9) == 9);
    CHECK(ini_get_bool(&doc, "t", "on", 0) == 1);
    CHECK(ini_get_bool(&doc, "t", "off", 1) == 0);
    CHECK(ini_get_bool(&doc, "t", "maybe", -1) == -1);
    ini_free(&doc);
}

TEST(test_syntax_errors)
{
    ini_doc doc;
    ini_error err;
    CHECK(ini_parse("[ok]\na = 1\n[broken\n", &doc, &err) == INI_ERR_SYNTAX);
    CHECK(err.line == 3);
    CHECK(doc.count == 0);
    CHECK(ini_parse("just words\n", &doc, &err) == INI_ERR_SYNTAX);
    CHECK(err.line == 1);
    CHECK(ini_parse("= value\n", &doc, &err) == INI_ERR_SYNTAX);
    CHECK_STR(ini_status_str(INI_ERR_SYNTAX), "syntax error");
}

TEST(test_load_file)
{
    char path[512];
    snprintf(path, sizeof path, "%s/sample.ini", data_dir);
    ini_doc doc;
    ini_error err;
    CHECK(ini_load(path, &doc, &err) == INI_OK);
    CHECK_STR(ini_get(&doc, "build", "compiler"), "cc");
    CHECK(ini_get_long(&doc, "build", "jobs", 0) == 4);
    CHECK(ini_get_bool(&doc, "test", "verbose", 0) == 1);
    ini_free(&doc);

    snprintf(path, sizeof path, "%s/does-not-exist.ini", data_dir);
    CHECK(ini_load(path, &doc, &err) == INI_ERR_IO);
    CHECK(err.status == INI_ERR_IO);
}
