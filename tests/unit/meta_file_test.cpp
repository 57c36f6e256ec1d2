// --meta file:PATH: the operator's own metadata. Trusted, so it must be exactly right: any
// mistake is an Error (exit 125) naming the file and field. Also the real FileReader.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>

#include "tests/unit/fact_helpers.hpp"
#include "launcher/metadata.hpp"
#include "sandbox/error.hpp"

using namespace jobcell;
using namespace jobcell::testing;

namespace {

const std::string kPath = "/etc/jobcell/meta.json";

FileReader one_file(const std::string& text) {
    return [text](const std::string& path, std::string& error) -> std::optional<std::string> {
        if (path != kPath) {
            error = "ENOENT (No such file or directory)";
            return std::nullopt;
        }
        return text;
    };
}

Facts from_file(const std::string& text) { return read_facts({MetaKind::file, kPath}, {}, one_file(text)); }

}  // namespace

TEST_CASE("metadata file: every field, trusted as operator_file", "[meta]") {
    // What a Buildkite or Jenkins pipeline step run by the agent (not by the job) might write.
    const Facts facts = from_file(R"({"ci": "buildkite", "event": "pull_request", "ref": "fix-leak", "ref_type": "branch",
        "ref_protected": false, "change_request": true, "source_repo": "acme/widget", "target_repo": "acme/widget",
        "fork": false, "author_association": "MEMBER", "approved": true})");
    CHECK(facts.adapter == "file");
    CHECK(usable_is(facts, "ci", std::string("buildkite")));
    CHECK(usable_is(facts, "event", std::string("pull_request")));
    CHECK(usable_is(facts, "ref", std::string("fix-leak")));
    CHECK(usable_is(facts, "ref_type", std::string("branch")));
    CHECK(usable_is(facts, "ref_protected", false));
    CHECK(usable_is(facts, "change_request", true));
    CHECK(usable_is(facts, "source_repo", std::string("acme/widget")));
    CHECK(usable_is(facts, "target_repo", std::string("acme/widget")));
    CHECK(usable_is(facts, "fork", false));
    CHECK(usable_is(facts, "author_association", std::string("MEMBER")));
    CHECK(usable_is(facts, "approved", true));
    CHECK(facts.usable("ref")->source == FactSource::operator_file);
    CHECK(facts.usable("ref")->origin == "file:/etc/jobcell/meta.json ref");
    CHECK(facts.contradictions.empty());
    CHECK(facts.forced_untrusted.empty());
}

TEST_CASE("metadata file: every field is optional", "[meta]") {
    const Facts facts = from_file("{}");
    CHECK(usable_is(facts, "ci", std::string("generic")));
    CHECK(facts.trusted.size() == 1);
    const Facts push = from_file(R"({"ref": "main", "ref_protected": true, "change_request": false})");
    CHECK(usable_is(push, "ref_protected", true));
    CHECK(push.usable("fork") == nullptr);  // nothing to derive it from
}

TEST_CASE("metadata file: facts it implies are derived and checked", "[meta]") {
    SECTION("source and target give fork") {
        const Facts facts = from_file(R"({"source_repo": "outsider/widget", "target_repo": "acme/widget"})");
        CHECK(usable_is(facts, "fork", true));
    }
    SECTION("fork=false with different repositories is a contradiction, not a guess") {
        const Facts facts = from_file(R"({"fork": false, "source_repo": "outsider/widget", "target_repo": "acme/widget"})");
        CHECK(facts.usable("fork") == nullptr);
        CHECK(facts.contradictions.count("fork") == 1);
    }
    SECTION("an external author association forces the fallback") {
        const Facts facts = from_file(R"({"author_association": "FIRST_TIME_CONTRIBUTOR"})");
        CHECK(facts.forced_untrusted.size() == 1);
    }
}

TEST_CASE("metadata file: mistakes are errors naming the file and field", "[meta]") {
    CHECK_THROWS_WITH(from_file(R"({"fork": "false"})"), "/etc/jobcell/meta.json: fork: expected a boolean");
    CHECK_THROWS_WITH(from_file(R"({"ref_protected": 1})"), "/etc/jobcell/meta.json: ref_protected: expected a boolean");
    CHECK_THROWS_WITH(from_file(R"({"approved": null})"), "/etc/jobcell/meta.json: approved: expected a boolean");
    CHECK_THROWS_WITH(from_file(R"({"ref": true})"), "/etc/jobcell/meta.json: ref: expected a non-empty string");
    CHECK_THROWS_WITH(from_file(R"({"target_repo": 4711})"), "/etc/jobcell/meta.json: target_repo: expected a non-empty string");
    CHECK_THROWS_WITH(from_file(R"({"ref": ""})"), "/etc/jobcell/meta.json: ref: expected a non-empty string");
    CHECK_THROWS_WITH(from_file(R"({"event": ["push"]})"), "/etc/jobcell/meta.json: event: expected a non-empty string");
    CHECK_THROWS_WITH(from_file(R"({"ref_type": "commit"})"), "/etc/jobcell/meta.json: ref_type: expected branch or tag");
    CHECK_THROWS_WITH(from_file(R"({"protected": true})"),
                      Catch::StartsWith("/etc/jobcell/meta.json: protected: unknown field (expected one of ci, event,"));
    CHECK_THROWS_WITH(from_file("[]"), "/etc/jobcell/meta.json: expected a JSON object");
    CHECK_THROWS_WITH(from_file(R"("ref")"), "/etc/jobcell/meta.json: expected a JSON object");
    CHECK_THROWS_WITH(from_file(R"({"ref": "main", )"), Catch::StartsWith("/etc/jobcell/meta.json: invalid JSON: "));
    CHECK_THROWS_WITH(from_file(""), Catch::StartsWith("/etc/jobcell/meta.json: invalid JSON: "));
    CHECK_THROWS_WITH(from_file(R"({"ref": ")" + std::string(5000, 'r') + R"("})"),
                      "/etc/jobcell/meta.json: ref: longer than 1024 bytes");
    CHECK_THROWS_WITH(read_facts({MetaKind::file, "/missing.json"}, {}, one_file("{}")),
                      "/missing.json: ENOENT (No such file or directory)");
    // only jobcell::Error, so main() reports it and exits 125
    CHECK_THROWS_AS(from_file("{\"fork\": 1}"), Error);
    CHECK_THROWS_AS(from_file("{\"x\""), Error);
}

TEST_CASE("metadata file: a key given twice, deep nesting, and no echo of the file's bytes", "[meta]") {
    // found by our attack run: the last of two ref_protected keys won
    CHECK_THROWS_WITH(read_facts({MetaKind::file, kPath}, {}, one_file(R"({"ref_protected": false, "ref_protected": true})")),
                      "/etc/jobcell/meta.json: invalid JSON: key 'ref_protected' given twice in one object");
    CHECK_THROWS_WITH(read_facts({MetaKind::file, kPath}, {}, one_file(std::string(100, '['))),
                      "/etc/jobcell/meta.json: invalid JSON: nested deeper than 64 levels");
    try {
        read_facts({MetaKind::file, kPath}, {}, one_file(R"({"a": tru3secret})"));
        FAIL("no error");
    } catch (const Error& e) {
        CHECK(std::string(e.what()).find("tru3") == std::string::npos);
        CHECK(std::string(e.what()).find("last read") == std::string::npos);
    }
}

TEST_CASE("the real file reader", "[meta]") {
    char dir_template[] = "/tmp/jobcell-meta-XXXXXX";
    REQUIRE(mkdtemp(dir_template) != nullptr);
    const std::string dir = dir_template;
    const std::string file = dir + "/meta.json";
    {
        std::ofstream out(file);
        out << R"({"ref": "main"})";
    }
    const FileReader read = real_file_reader();
    std::string error;
    const auto text = read(file, error);
    REQUIRE(text.has_value());
    CHECK(*text == R"({"ref": "main"})");

    CHECK_FALSE(read(dir + "/missing.json", error).has_value());
    CHECK(error == "ENOENT (No such file or directory)");
    CHECK_FALSE(read(dir, error).has_value());
    CHECK(error == "not a regular file");
    const std::string fifo = dir + "/fifo";
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    CHECK_FALSE(read(fifo, error).has_value());  // and does not hang
    CHECK(error == "not a regular file");

    const Facts facts = read_facts(parse_meta_request("file:" + file), {}, read);
    CHECK(usable_is(facts, "ref", std::string("main")));

    unlink(fifo.c_str());
    unlink(file.c_str());
    rmdir(dir.c_str());
}
