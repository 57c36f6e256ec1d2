// GitLab: facts from GitLab Runner's job response ($JOB_RESPONSE_FILE), plus the job's
// variables as untrusted witnesses.
//
// Where the job response comes from (what this code relies on):
//  - The custom executor writes it in Prepare, before any stage runs: createJobResponseFile()
//    JSON-encodes the runner's own copy of the job (`e.Build.JobResponse`) to
//    <tempdir>/response.json, mode 0600, and passes the path as JOB_RESPONSE_FILE - not as a
//    CUSTOM_ENV_ variable, so the job cannot set it (gitlab-runner executors/custom/custom.go;
//    feature added in gitlab-runner MR !2912, which names "CUSTOM_ENV_ values can be user
//    influenced" as its reason).
//  - Because the runner re-encodes its own Go struct, the file holds exactly the fields that
//    runner version knows. GitInfo (gitlab-runner common/network.go, later common/spec/spec.go)
//    has repo_url, repo_object_format, ref, sha, before_sha, ref_type ("branch" | "tag"),
//    refspecs ([]string), depth, and - only in newer runners - `protected` as a *bool, so it is
//    absent with older runners and null when the GitLab server did not send it. JobInfo has
//    name, stage, project_id (int64), project_name and, in newer runners, project_full_path.
//  - The server fills these from the build (gitlab lib/api/entities/ci/job_request/
//    git_info.rb: `expose :protected`; response.rb: `expose :runner_variables, as:
//    :variables`). refspecs come from Ci::BuildRunnerPresenter#refspecs: always the pipeline's
//    persistent ref "+refs/pipelines/<id>:refs/pipelines/<id>", then "+refs/heads/<ref>:..."
//    for a branch, "+refs/tags/<ref>:..." for a tag, or both wildcards when GIT_DEPTH is 0.
//  - A merge request pipeline in the target project runs on ref "refs/merge-requests/<iid>/head"
//    (MergeRequests::CreatePipelineService uses merge_request.ref_path; merged-results and merge
//    train pipelines use .../merge and .../train), so git_info.ref, not the refspecs, is what
//    normally shows a merge request. A fork's merge request whose pipeline may not run in the
//    parent project runs in the *fork* on the plain source branch: to the job response that is
//    a branch pipeline of the fork's project_id. Only a policy that pins target_repo to the
//    operator's own project ids tells the two apart.
//  - `variables` is the job's variable list, including values a .gitlab-ci.yml (or a merge
//    request's changed one) set over predefined variables: untrusted, like CUSTOM_ENV_*.
#include <nlohmann/json.hpp>

#include "launcher/metadata.hpp"

namespace jobcell {

using nlohmann::json;

namespace {

constexpr std::string_view kMrPrefix = "refs/merge-requests/";

bool starts_with(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

// "refs/merge-requests/77/head" -> "77". Only a ref that starts so: a branch may be named
// "x/refs/merge-requests/1/y".
std::optional<std::string> merge_request_iid(std::string_view text) {
    if (!starts_with(text, kMrPrefix)) return std::nullopt;
    std::string_view rest = text.substr(kMrPrefix.size());
    std::size_t digits = 0;
    while (digits < rest.size() && digits < 19 && rest[digits] >= '0' && rest[digits] <= '9') ++digits;
    if (digits == 0 || digits >= rest.size() || rest[digits] != '/') return std::nullopt;
    return std::string(rest.substr(0, digits));
}

// A refspec that fetches a branch, a tag or the pipeline's persistent ref: nothing that belongs
// to a merge request.
bool is_branch_or_tag_refspec(std::string_view spec) {
    if (!spec.empty() && spec.front() == '+') spec.remove_prefix(1);
    return starts_with(spec, "refs/heads/") || starts_with(spec, "refs/tags/") || starts_with(spec, "refs/pipelines/");
}

std::optional<bool> parse_bool_text(const std::string& text) {
    if (text == "true") return true;
    if (text == "false") return false;
    return std::nullopt;
}

// One set of GitLab variables (the job's environment under one prefix, or the response's
// `variables` array), recorded as untrusted facts.
class VariableWitness {
public:
    VariableWitness(Facts& facts, bool trusted_ref_is_mr) : facts_(facts), trusted_ref_is_mr_(trusted_ref_is_mr) {}

    void add(const std::string& key, const std::string& value, const std::string& origin) {
        if (value.size() > kMaxFactText) {
            facts_.warnings.push_back(origin + ": longer than " + std::to_string(kMaxFactText) + " bytes, ignored");
            return;
        }
        if (key == "CI_PIPELINE_SOURCE") {
            if (!value.empty()) facts_.set_untrusted("event", value, origin);
            // A claim that this is a change request can only lower trust: an external pull
            // request's pipeline runs a fork's code on a plain branch ref, which the job
            // response alone cannot tell from a push.
            if (value == "merge_request_event" || value == "external_pull_request_event")
                facts_.set_untrusted("change_request", true, origin);
        } else if (key == "CI_COMMIT_REF_PROTECTED") {
            if (auto flag = parse_bool_text(value)) {
                facts_.set_untrusted("ref_protected", *flag, origin);
            } else if (!value.empty()) {
                facts_.warnings.push_back(origin + ": expected true or false, ignored");
            }
        } else if (key == "CI_COMMIT_REF_NAME") {
            // In a merge request pipeline this is the source branch, while the job response's ref
            // is refs/merge-requests/<iid>/head: two names for different things, not a dispute.
            if (!value.empty() && !trusted_ref_is_mr_) facts_.set_untrusted("ref", value, origin);
        } else if (key == "CI_COMMIT_BRANCH") {
            if (!value.empty()) facts_.set_untrusted("ref_type", std::string("branch"), origin);
        } else if (key == "CI_COMMIT_TAG") {
            if (!value.empty()) facts_.set_untrusted("ref_type", std::string("tag"), origin);
        } else if (key == "CI_PROJECT_ID") {
            if (!value.empty()) {
                facts_.set_untrusted("target_repo", value, origin);
                if (project_.empty()) project_ = value;
            }
        } else if (key == "CI_MERGE_REQUEST_PROJECT_ID") {
            if (!value.empty()) {
                facts_.set_untrusted("target_repo", value, origin);
                mr_target_ = value;
            }
        } else if (key == "CI_MERGE_REQUEST_SOURCE_PROJECT_ID") {
            if (!value.empty()) {
                facts_.set_untrusted("source_repo", value, origin);
                mr_source_ = value;
                mr_source_origin_ = origin;
            }
        } else if (key == "CI_MERGE_REQUEST_IID" || key == "CI_EXTERNAL_PULL_REQUEST_IID") {
            if (!value.empty()) facts_.set_untrusted("change_request", true, origin);
        } else if (key == "CI_MERGE_REQUEST_APPROVED") {
            if (auto flag = parse_bool_text(value)) facts_.set_untrusted("approved", *flag, origin);
        } else if (key == "GITLAB_CI") {
            if (value == "true") facts_.set_untrusted("ci", std::string("gitlab"), origin);
        }
    }

    // A fork claim from variables: it can only lower trust (by contradicting a trusted value).
    void finish() {
        const std::string& target = !mr_target_.empty() ? mr_target_ : project_;
        if (!mr_source_.empty() && !target.empty()) {
            facts_.set_untrusted("fork", mr_source_ != target, mr_source_origin_ + " vs the target project id");
        }
    }

private:
    Facts& facts_;
    bool trusted_ref_is_mr_;
    std::string project_, mr_target_, mr_source_, mr_source_origin_;
};

// The trusted part. Returns whether git_info.ref names a merge request.
bool read_response(Facts& facts, const std::string& path, const FileReader& read, json& document) {
    const std::string where = "JOB_RESPONSE_FILE " + path;
    std::string error;
    const std::optional<std::string> text = read(path, error);
    if (!text) {
        facts.warnings.push_back(where + ": " + error);
        return false;
    }
    if (!meta_detail::parse_json(*text, document, error)) {
        facts.warnings.push_back(where + ": invalid JSON: " + error);
        return false;
    }
    if (!document.is_object()) {
        facts.warnings.push_back(where + ": expected a JSON object");
        return false;
    }
    meta_detail::JsonFields fields(document, where, facts.warnings);
    const auto origin = [](std::string_view field) { return "JOB_RESPONSE_FILE " + std::string(field); };

    facts.set_trusted("ci", std::string("gitlab"), FactSource::job_response, "JOB_RESPONSE_FILE");

    const std::optional<std::string> ref = fields.text("git_info.ref", true);
    std::optional<std::string> mr_iid = ref ? merge_request_iid(*ref) : std::nullopt;
    const bool ref_is_mr = mr_iid.has_value();
    if (ref) facts.set_trusted("ref", *ref, FactSource::job_response, origin("git_info.ref"));

    std::optional<std::string> ref_type = fields.text("git_info.ref_type", true);
    if (ref_type && *ref_type != "branch" && *ref_type != "tag") {
        fields.warn("git_info.ref_type", "expected branch or tag");
        ref_type.reset();
    }
    if (ref_type) facts.set_trusted("ref_type", *ref_type, FactSource::job_response, origin("git_info.ref_type"));

    if (const auto flag = fields.flag("git_info.protected", true)) {
        facts.set_trusted("ref_protected", *flag, FactSource::job_response, origin("git_info.protected"));
    }

    // refspecs: fetching a merge request ref marks a change request; only branch, tag and
    // pipeline refs (with a ref that is not a merge request's) mark a branch or tag pipeline.
    bool refspecs_plain = false;
    std::optional<std::string> refspec_iid;
    if (const json* specs = fields.at("git_info.refspecs", true); specs != nullptr) {
        bool all_strings = specs->is_array() && !specs->empty();
        bool unrecognised = false;
        for (std::size_t i = 0; all_strings && i < specs->size(); ++i) {
            const json& spec = (*specs)[i];
            if (!spec.is_string()) {
                all_strings = false;
                break;
            }
            const auto& refspec = spec.get_ref<const std::string&>();
            const std::string_view source = std::string_view(refspec).substr(refspec.rfind('+', 0) == 0 ? 1 : 0);
            if (auto iid = merge_request_iid(source)) {
                if (!refspec_iid) refspec_iid = iid;
            } else if (!is_branch_or_tag_refspec(refspec)) {
                unrecognised = true;
            }
        }
        if (!all_strings) {
            fields.warn("git_info.refspecs", "expected a non-empty array of strings");
        } else {
            refspecs_plain = !refspec_iid && !unrecognised;
            if (unrecognised && !refspec_iid && !ref_is_mr) {
                fields.warn("git_info.refspecs", "unrecognised refspec: cannot tell whether this is a merge request");
            }
        }
    }
    if (ref_is_mr || refspec_iid) {
        facts.set_trusted("change_request", true, FactSource::job_response,
                          origin(ref_is_mr ? "git_info.ref" : "git_info.refspecs"));
        if (mr_iid && refspec_iid && *mr_iid != *refspec_iid) {
            fields.warn("git_info.refspecs", "names merge request " + *refspec_iid + ", git_info.ref names " + *mr_iid);
        } else {
            facts.context["gitlab_mr_iid"] = mr_iid ? *mr_iid : *refspec_iid;
        }
    } else if (refspecs_plain && ref && ref_type) {
        facts.set_trusted("change_request", false, FactSource::job_response, origin("git_info.refspecs"));
    }

    const std::optional<std::string> project = fields.id("job_info.project_id", true);
    if (project) {
        facts.set_trusted("target_repo", *project, FactSource::job_response, origin("job_info.project_id"));
        facts.context["gitlab_project_id"] = *project;
        // A branch or tag pipeline runs on the project's own ref: the change comes from the
        // project itself. (Which project that is, is for the policy to pin.)
        if (const Fact* cr = facts.usable("change_request"); cr != nullptr && cr->value == FactValue{false}) {
            facts.set_trusted("source_repo", *project, FactSource::derived,
                              "JOB_RESPONSE_FILE branch/tag pipeline of job_info.project_id");
        }
    }
    if (const auto full_path = fields.text("job_info.project_full_path", false)) {
        facts.context["gitlab_project_path"] = *full_path;
    }
    return ref_is_mr;
}

void read_response_variables(Facts& facts, const std::string& path, const json& document, VariableWitness& witness) {
    if (!document.is_object()) return;
    const auto found = document.find("variables");
    if (found == document.end() || found->is_null()) return;
    const std::string where = "JOB_RESPONSE_FILE " + path + ": variables";
    if (!found->is_array()) {
        facts.warnings.push_back(where + ": expected an array");
        return;
    }
    bool warned = false;
    for (const json& entry : *found) {
        const json* key = nullptr;
        const json* value = nullptr;
        if (entry.is_object()) {
            if (auto k = entry.find("key"); k != entry.end()) key = &*k;
            if (auto v = entry.find("value"); v != entry.end()) value = &*v;
        }
        if (key == nullptr || value == nullptr || !key->is_string() || !value->is_string()) {
            if (!warned) facts.warnings.push_back(where + ": expected objects with string key and value");
            warned = true;
            continue;
        }
        const auto& name = key->get_ref<const std::string&>();
        witness.add(name, value->get_ref<const std::string&>(), "JOB_RESPONSE_FILE variables " + name);
    }
    witness.finish();
}

}  // namespace

void read_gitlab_facts(Facts& facts, const EnvList& env, const FileReader& read) {
    facts.adapter = "gitlab";
    bool ref_is_mr = false;
    json document;
    const std::string* path = env_get(env, "JOB_RESPONSE_FILE");
    if (path == nullptr || path->empty()) {
        facts.warnings.push_back(
            "JOB_RESPONSE_FILE: not set (GitLab Runner's custom executor sets it); only job variables, which are "
            "not trusted, were read");
    } else {
        ref_is_mr = read_response(facts, *path, read, document);
        VariableWitness from_response(facts, ref_is_mr);
        read_response_variables(facts, *path, document, from_response);
    }

    // The custom executor passes every job variable as CUSTOM_ENV_<name>; a shell executor (jobcell
    // run inside the job) sees them plainly. Either way the job's configuration can set them.
    for (std::string_view prefix : {std::string_view("CUSTOM_ENV_"), std::string_view("")}) {
        VariableWitness witness(facts, ref_is_mr);
        for (const auto& [name, value] : env) {
            if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
            const std::string key = name.substr(prefix.size());
            if (prefix.empty() && key.rfind("CUSTOM_ENV_", 0) == 0) continue;
            witness.add(key, value, name);
        }
        witness.finish();
    }
}

}  // namespace jobcell
