// Facts: one normalised value per job describing where its change came from, each fact with
// where it came from. Pure data. Adapters (meta_gitlab.cpp, meta_github.cpp, meta_file.cpp)
// fill it; the rule engine (rules.cpp) reads it.
//
// The one rule of trust: only a trusted source may raise trust; any source may lower it. So a
// fact carries its provenance, rules accept only facts from trusted sources, and a value from
// an untrusted source (a variable the job can set) is kept beside it only to detect a
// contradiction — which lowers trust to the fallback tier.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace jobcell {

// Where a fact's value came from.
enum class FactSource {
    job_response,   // GitLab Runner's JOB_RESPONSE_FILE (the server's job payload): trusted
    event_payload,  // GitHub's GITHUB_EVENT_PATH file: trusted
    runner_env,     // variables the runner sets and the job cannot override (GITHUB_*): trusted
    operator_file,  // --meta file:PATH written by the operator: trusted
    scm_api,        // the SCM's API, queried with the operator's token: trusted
    derived,        // computed from other facts (trusted iff all its inputs are)
    job_env,        // variables the job's own configuration can set (CUSTOM_ENV_*, CI_*): untrusted
};

bool is_trusted(FactSource source);
const char* fact_source_name(FactSource source);  // "job_response", ...

using FactValue = std::variant<bool, std::string>;

struct Fact {
    FactValue value;
    FactSource source;
    std::string origin;  // file and field or variable: "JOB_RESPONSE_FILE git_info.protected"
};

// The fact names rules may read. Any other name in a rule is a policy error.
//   ci                  string  gitlab | github | generic
//   event               string  GitLab pipeline source (push, merge_request_event, schedule, ...)
//                               or GitHub event name (push, pull_request, pull_request_target, ...)
//   ref                 string  branch or tag name, without refs/heads/ or refs/tags/
//   ref_type            string  branch | tag
//   ref_protected       bool
//   change_request      bool    the job runs a merge request / pull request
//   source_repo         string  where the change comes from (project id or owner/name)
//   target_repo         string  the project the pipeline runs for
//   fork                bool    source_repo differs from target_repo
//   author_association  string  GitHub's OWNER, MEMBER, COLLABORATOR, CONTRIBUTOR, ...
//   approved            bool    the change request was approved by a maintainer
extern const std::vector<std::string> kFactNames;
bool is_fact_name(const std::string& name);
// ref_protected, change_request, fork and approved hold a bool; every other fact a string.
bool is_bool_fact(const std::string& name);

struct Facts {
    // At most one trusted value per fact name.
    std::map<std::string, Fact> trusted;
    // Values from untrusted sources, kept to detect contradictions and to explain.
    std::map<std::string, Fact> untrusted;
    // Facts whose sources disagree: any rule reading one does not match.
    std::map<std::string, std::string> contradictions;  // fact name -> why
    // A reason that forces the fallback tier whatever the rules say (a fork's
    // pull_request_target, an external author association, ...). Empty: none.
    std::vector<std::string> forced_untrusted;
    // Problems met while reading metadata (missing file, malformed field): each names the
    // file and field. They never raise trust; they are shown by explain and logged by run.
    std::vector<std::string> warnings;
    std::string adapter;  // "gitlab", "github", "file", "none"
    // What an adapter found that is not a trust fact but that a later step needs, such as the
    // merge request to verify against the SCM's API: "gitlab_mr_iid", "gitlab_project_id",
    // "gitlab_project_path", "github_pr_number". Rules never read it.
    std::map<std::string, std::string> context;

    // Records a trusted value; a second trusted value that differs is a contradiction.
    void set_trusted(const std::string& name, FactValue value, FactSource source, std::string origin);
    // Records an untrusted value; if it disagrees with a trusted one, that is a contradiction.
    void set_untrusted(const std::string& name, FactValue value, std::string origin);
    // The trusted, uncontradicted value of a fact, if any.
    const Fact* usable(const std::string& name) const;
};

std::string fact_value_text(const FactValue& value);  // true / false / the string

}  // namespace jobcell
