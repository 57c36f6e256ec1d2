// Metadata adapters: turn what a CI system tells us about a job into Facts, each value tagged
// with where it came from. One file per adapter (meta_gitlab.cpp, meta_github.cpp,
// meta_file.cpp); meta_detect.cpp picks one (--meta) and derives facts common to all.
//
// Adapters never throw for metadata the CI system or the job wrote: a missing file, malformed
// JSON or a field of the wrong type becomes a warning naming the file and field, and the fact
// stays missing, which fails closed. The operator's own --meta file:PATH is the exception: it is
// configuration, so a mistake in it is an Error (exit 125), like a bad policy file.
//
// Files are read through a FileReader so tests and the fuzzer feed bytes without a filesystem.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "launcher/facts.hpp"
#include "sandbox/env.hpp"

namespace jobcell {

enum class MetaKind { automatic, gitlab, github, file, none };

struct MetaRequest {
    MetaKind kind = MetaKind::automatic;
    std::string path;  // for MetaKind::file
};

// "auto" | "gitlab" | "github" | "file:PATH" | "none". Anything else throws
// Error("--meta X: expected auto, gitlab, github, file:PATH or none").
MetaRequest parse_meta_request(std::string_view text);
const char* meta_kind_name(MetaKind kind);  // "auto", "gitlab", ...

// What --meta auto means in this environment: gitlab when JOB_RESPONSE_FILE, CUSTOM_ENV_CI,
// CUSTOM_ENV_GITLAB_CI or GITLAB_CI is set, github when GITHUB_ACTIONS is, else none.
MetaKind detect_meta_kind(const EnvList& env);
// Pure: why --meta auto reads no metadata at all ("" when it may): markers of GitLab and of
// GitHub Actions at once, which only a job setting the other system's marker produces.
std::string conflicting_ci_markers(const EnvList& env);

// Returns the file's contents, or nullopt with `error` set ("ENOENT (No such file or
// directory)", "not a regular file", ...).
using FileReader = std::function<std::optional<std::string>(const std::string& path, std::string& error)>;

// Reads regular files of at most kMaxMetadataBytes. A job response carries the job's scripts
// and variables, so it may be large, but never this large.
inline constexpr std::size_t kMaxMetadataBytes = 64u << 20;
FileReader real_file_reader();

// The whole step: picks the adapter (automatic: detect_meta_kind), runs it, then derive_facts.
// Throws Error only for a bad --meta file:PATH.
Facts read_facts(const MetaRequest& request, const EnvList& env, const FileReader& read);

// The adapters. Each sets facts.adapter and adds to `facts`; none calls derive_facts.
// GitLab: trusted facts from the job response at $JOB_RESPONSE_FILE; CUSTOM_ENV_CI_* / CI_*
// variables and the response's own `variables` array are recorded as untrusted.
void read_gitlab_facts(Facts& facts, const EnvList& env, const FileReader& read);
// GitHub Actions: trusted facts from $GITHUB_EVENT_PATH and the runner's GITHUB_* variables.
void read_github_facts(Facts& facts, const EnvList& env, const FileReader& read);
// --meta file:PATH (schema: docs/metadata-file.md). Throws Error("PATH: FIELD: expected ...").
void read_file_facts(Facts& facts, const std::string& path, const FileReader& read);

// Facts that follow from others, for every adapter:
//  - fork = (source_repo != target_repo) when both are usable; a trusted fork=false that
//    disagrees with differing repos is a contradiction, a trusted fork=true stays (lower trust).
//  - an external author_association (FIRST_TIME_CONTRIBUTOR, FIRST_TIMER, NONE, MANNEQUIN,
//    CONTRIBUTOR) from any source forces the fallback tier.
void derive_facts(Facts& facts);

// GitHub's author associations that mark an author from outside the project.
bool is_external_author_association(std::string_view association);

// Longest string a fact may hold; longer values are refused (a ref or a repo name is short).
inline constexpr std::size_t kMaxFactText = 1024;

// Shared by the adapters that read JSON written by a CI system: lookups that report problems
// as warnings ("WHERE: FIELD: expected a boolean") instead of throwing.
namespace meta_detail {

// Parses `text`; on failure returns false and sets `error` ("parse error at byte 12: ...").
bool parse_json(const std::string& text, nlohmann::json& out, std::string& error);

// Reads fields of one JSON document by dotted path ("git_info.protected"); every problem is
// appended to `warnings` prefixed with `where`.
class JsonFields {
public:
    JsonFields(const nlohmann::json& root, std::string where, std::vector<std::string>& warnings);

    // The value at `path`, or nullptr when it (or an object on the way) is absent. A step that is
    // not an object is warned about; an absent field only when `required`.
    const nlohmann::json* at(std::string_view path, bool required);
    // A non-empty string of at most kMaxFactText bytes. null counts as absent.
    std::optional<std::string> text(std::string_view path, bool required);
    std::optional<bool> flag(std::string_view path, bool required);
    // A non-negative integer (GitLab project ids) or a string, as decimal text.
    std::optional<std::string> id(std::string_view path, bool required);

    void warn(std::string_view path, std::string_view problem);
    const std::string& where() const { return where_; }

private:
    const nlohmann::json& root_;
    std::string where_;
    std::vector<std::string>& warnings_;
};

}  // namespace meta_detail

}  // namespace jobcell
