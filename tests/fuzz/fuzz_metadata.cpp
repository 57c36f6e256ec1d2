// libFuzzer target for the metadata adapters. The same bytes are fed as a GitLab job response,
// a GitHub event payload (under an event name picked by the first byte) and an operator
// metadata file, through a fake FileReader.
//
// What must hold, whatever the bytes:
//  - the GitLab and GitHub adapters never throw (malformed metadata is a warning);
//  - the operator file throws nothing but jobcell::Error (exit 125 with a message);
//  - no usable fact ever comes from an untrusted source.
// Anything else - a crash, a sanitizer report, another exception - is a finding.
//
//   clang++ -std=c++20 -fsanitize=fuzzer,address -I. tests/fuzz/fuzz_metadata.cpp \
//     launcher/facts.cpp launcher/meta_*.cpp sandbox/env.cpp sandbox/error.cpp -o fuzz_metadata
//   ./fuzz_metadata -max_total_time=60
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "launcher/metadata.hpp"
#include "sandbox/error.hpp"

namespace {

using namespace jobcell;

const char* const kEvents[] = {"push",          "pull_request",        "pull_request_target", "pull_request_review",
                               "workflow_run",  "schedule",            "issue_comment",       "merge_group",
                               "", "workflow_dispatch"};

FileReader reader_of(const std::string& bytes) {
    return [&bytes](const std::string& path, std::string& error) -> std::optional<std::string> {
        if (path == "/missing") {
            error = "ENOENT (No such file or directory)";
            return std::nullopt;
        }
        return bytes;
    };
}

void check(const Facts& facts) {
    for (const auto& name : kFactNames) {
        const Fact* fact = facts.usable(name);
        if (fact != nullptr && !is_trusted(fact->source)) std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    const FileReader read = reader_of(bytes);
    const std::uint8_t selector = size > 0 ? data[0] : 0;
    // A short prefix also serves as a job variable, so variables and response disagree in odd ways.
    const std::string variable = bytes.substr(0, selector % 16);

    check(read_facts({MetaKind::gitlab, {}},
                     {{"JOB_RESPONSE_FILE", "/builds/response.json"},
                      {"CUSTOM_ENV_CI_COMMIT_REF_PROTECTED", selector & 1 ? "true" : variable},
                      {"CUSTOM_ENV_CI_COMMIT_REF_NAME", variable},
                      {"CUSTOM_ENV_CI_MERGE_REQUEST_SOURCE_PROJECT_ID", variable},
                      {"CUSTOM_ENV_CI_PROJECT_ID", "4711"},
                      {"CI_PIPELINE_SOURCE", variable}},
                     read));

    const char* event = kEvents[selector % (sizeof kEvents / sizeof kEvents[0])];
    check(read_facts({MetaKind::automatic, {}},
                     {{"GITHUB_ACTIONS", "true"},
                      {"GITHUB_EVENT_NAME", event},
                      {"GITHUB_EVENT_PATH", "/runner/event.json"},
                      {"GITHUB_REF", selector & 2 ? "refs/heads/main" : "refs/pull/" + variable + "/merge"},
                      {"GITHUB_REF_PROTECTED", selector & 4 ? "true" : variable},
                      {"GITHUB_REPOSITORY", selector & 8 ? "acme/widget" : variable}},
                     read));

    try {
        check(read_facts({MetaKind::file, "/etc/jobcell/meta.json"}, {}, read));
    } catch (const jobcell::Error&) {
        // the operator's file is configuration: a mistake in it is an Error, and only that
    }
    return 0;
}
