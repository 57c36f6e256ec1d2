// GitHub Actions: facts from the event payload ($GITHUB_EVENT_PATH) and the runner's GITHUB_*
// variables.
//
// Why GITHUB_* counts as runner_env (trusted): GitHub documents that a workflow cannot
// overwrite the default variables named GITHUB_* and RUNNER_* (docs.github.com, "Variables
// reference": "You can't overwrite the value of the default environment variables named
// GITHUB_* and RUNNER_*"), and the event payload file is written by the runner from the
// event GitHub delivered. That holds only while jobcell is started by the runner (a runner
// hook or a wrapped executor), not by a step of the workflow itself: a step can start jobcell
// with any environment it likes, so there nothing is trustworthy.
//
// Payload fields read (GitHub webhook payloads): pull_request.{number, author_association,
// head.repo.{full_name, fork}, base.repo.full_name}, workflow_run.{event,
// head_repository.{full_name, fork}}, repository.full_name, ref (push). A null head.repo is a
// pull request whose fork was deleted: it counts as a fork.
#include <nlohmann/json.hpp>

#include "launcher/metadata.hpp"

namespace jobcell {

using nlohmann::json;

namespace {

bool starts_with(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

bool is_pull_request_event(std::string_view event) {
    return event == "pull_request" || event == "pull_request_target" || event == "pull_request_review" ||
           event == "pull_request_review_comment";
}

// Events that run the repository's own code on its own ref, started by someone with write
// access or by GitHub itself: not a change request.
bool is_own_ref_event(std::string_view event) {
    return event == "push" || event == "create" || event == "delete" || event == "release" || event == "schedule" ||
           event == "workflow_dispatch" || event == "repository_dispatch" || event == "merge_group";
}

const std::string* env_value(const EnvList& env, std::string_view name) {
    const std::string* value = env_get(env, name);
    return value != nullptr && !value->empty() ? value : nullptr;
}

// refs/heads/X -> X (branch), refs/tags/X -> X (tag), refs/pull/N/merge -> change request N.
void record_ref(Facts& facts, const std::string& full, FactSource source, const std::string& origin) {
    if (full.size() > kMaxFactText) {
        facts.warnings.push_back(origin + ": longer than " + std::to_string(kMaxFactText) + " bytes, ignored");
        return;
    }
    if (starts_with(full, "refs/heads/") && full.size() > 11) {
        facts.set_trusted("ref", full.substr(11), source, origin);
        facts.set_trusted("ref_type", std::string("branch"), source, origin);
    } else if (starts_with(full, "refs/tags/") && full.size() > 10) {
        facts.set_trusted("ref", full.substr(10), source, origin);
        facts.set_trusted("ref_type", std::string("tag"), source, origin);
    } else if (starts_with(full, "refs/pull/")) {
        facts.set_trusted("ref", full, source, origin);
        facts.set_trusted("change_request", true, source, origin);
        const std::string rest = full.substr(10);
        if (const auto slash = rest.find('/'); slash != std::string::npos && slash > 0) {
            facts.context["github_pr_number"] = rest.substr(0, slash);
        }
    } else {
        facts.set_trusted("ref", full, source, origin);
    }
}

void read_env(Facts& facts, const EnvList& env) {
    if (const std::string* actions = env_value(env, "GITHUB_ACTIONS"); actions != nullptr && *actions == "true") {
        facts.set_trusted("ci", std::string("github"), FactSource::runner_env, "GITHUB_ACTIONS");
    }
    if (const std::string* event = env_value(env, "GITHUB_EVENT_NAME")) {
        if (event->size() <= kMaxFactText) {
            facts.set_trusted("event", *event, FactSource::runner_env, "GITHUB_EVENT_NAME");
        }
        if (is_pull_request_event(*event)) {
            facts.set_trusted("change_request", true, FactSource::runner_env, "GITHUB_EVENT_NAME " + *event);
        } else if (is_own_ref_event(*event)) {
            facts.set_trusted("change_request", false, FactSource::runner_env, "GITHUB_EVENT_NAME " + *event);
        }
    } else {
        facts.warnings.push_back("GITHUB_EVENT_NAME: not set");
    }
    if (const std::string* ref = env_value(env, "GITHUB_REF")) {
        record_ref(facts, *ref, FactSource::runner_env, "GITHUB_REF");
    }
    if (const std::string* protected_ref = env_value(env, "GITHUB_REF_PROTECTED")) {
        if (*protected_ref == "true" || *protected_ref == "false") {
            facts.set_trusted("ref_protected", *protected_ref == "true", FactSource::runner_env,
                              "GITHUB_REF_PROTECTED");
        } else {
            facts.warnings.push_back("GITHUB_REF_PROTECTED: expected true or false");
        }
    }
    const std::string* repository = env_value(env, "GITHUB_REPOSITORY");
    if (repository != nullptr && repository->size() <= kMaxFactText) {
        facts.set_trusted("target_repo", *repository, FactSource::runner_env, "GITHUB_REPOSITORY");
    }
}

struct HeadRepo {
    bool known = false;    // we learned something about the head repository
    bool deleted = false;  // null: the fork is gone
    std::optional<std::string> full_name;
    std::optional<bool> fork;
};

// `path` is the head repository object ("pull_request.head.repo", "workflow_run.head_repository").
HeadRepo read_head(meta_detail::JsonFields& fields, const std::string& path) {
    HeadRepo head;
    const json* repo = fields.at(path, true);
    if (repo == nullptr) return head;
    if (repo->is_null()) {
        head.known = head.deleted = true;
        return head;
    }
    if (!repo->is_object()) {
        fields.warn(path, "expected an object");
        return head;
    }
    head.full_name = fields.text(path + ".full_name", true);
    head.fork = fields.flag(path + ".fork", false);
    head.known = head.full_name.has_value();
    return head;
}

// fork = deleted head, or head.repo.fork, or a head repository other than the target.
// Unknown (nullopt) when the payload does not say enough.
std::optional<bool> head_is_fork(const HeadRepo& head, const std::optional<std::string>& target) {
    if (head.deleted) return true;
    if (head.fork == true) return true;
    if (head.full_name && target) return *head.full_name != *target;
    return std::nullopt;
}

void read_payload(Facts& facts, const std::string& path, const std::string& event, const FileReader& read) {
    const std::string where = "GITHUB_EVENT_PATH " + path;
    std::string error;
    const std::optional<std::string> text = read(path, error);
    if (!text) {
        facts.warnings.push_back(where + ": " + error);
        return;
    }
    json document;
    if (!meta_detail::parse_json(*text, document, error)) {
        facts.warnings.push_back(where + ": invalid JSON: " + error);
        return;
    }
    if (!document.is_object()) {
        facts.warnings.push_back(where + ": expected a JSON object");
        return;
    }
    meta_detail::JsonFields fields(document, where, facts.warnings);
    const auto origin = [](std::string_view field) { return "GITHUB_EVENT_PATH " + std::string(field); };
    const auto set = [&](const std::string& name, FactValue value, std::string_view field) {
        facts.set_trusted(name, std::move(value), FactSource::event_payload, origin(field));
    };

    const std::optional<std::string> repository = fields.text("repository.full_name", true);
    if (repository) set("target_repo", *repository, "repository.full_name");

    if (is_pull_request_event(event)) {
        if (fields.at("pull_request", true) == nullptr) return;
        if (const auto number = fields.id("pull_request.number", false)) facts.context["github_pr_number"] = *number;
        const std::optional<std::string> base = fields.text("pull_request.base.repo.full_name", true);
        if (base) set("target_repo", *base, "pull_request.base.repo.full_name");
        const HeadRepo head = read_head(fields, "pull_request.head.repo");
        if (head.full_name) set("source_repo", *head.full_name, "pull_request.head.repo.full_name");
        const std::optional<bool> fork = head_is_fork(head, base ? base : repository);
        if (fork) {
            set("fork", *fork, head.deleted ? "pull_request.head.repo (null: deleted fork)" : "pull_request.head.repo");
        }
        if (const auto association = fields.text("pull_request.author_association", true)) {
            set("author_association", *association, "pull_request.author_association");
        }
        if (event == "pull_request_target" && fork != false) {
            facts.forced_untrusted.push_back(
                std::string("pull_request_target ") + (fork ? "from a fork" : "whose head repository is unknown") +
                ": it runs with the base repository's secrets and token");
        }
    } else if (event == "workflow_run") {
        if (fields.at("workflow_run", true) == nullptr) return;
        const HeadRepo head = read_head(fields, "workflow_run.head_repository");
        if (head.full_name) set("source_repo", *head.full_name, "workflow_run.head_repository.full_name");
        const std::optional<bool> fork = head_is_fork(head, repository);
        if (fork) {
            set("fork", *fork,
                head.deleted ? "workflow_run.head_repository (null: deleted fork)" : "workflow_run.head_repository");
        }
        if (const auto trigger = fields.text("workflow_run.event", false)) {
            if (is_pull_request_event(*trigger)) set("change_request", true, "workflow_run.event");
            else if (is_own_ref_event(*trigger)) set("change_request", false, "workflow_run.event");
        }
        if (fork != false) {
            facts.forced_untrusted.push_back(
                std::string("workflow_run ") + (fork ? "from a fork" : "whose head repository is unknown") +
                ": it runs with the base repository's secrets and token");
        }
    } else if (is_own_ref_event(event)) {
        if (repository) set("source_repo", *repository, "repository.full_name");
        if (event == "push") {
            if (const auto ref = fields.text("ref", true)) {
                record_ref(facts, *ref, FactSource::event_payload, origin("ref"));
            }
        }
    }
    // Any other event (issue_comment, issues, ...) says nothing about a change request: rules
    // that need one do not match.
}

}  // namespace

void read_github_facts(Facts& facts, const EnvList& env, const FileReader& read) {
    facts.adapter = "github";
    read_env(facts, env);
    const std::string* event = env_value(env, "GITHUB_EVENT_NAME");
    const std::string* path = env_value(env, "GITHUB_EVENT_PATH");
    if (path == nullptr) {
        facts.warnings.push_back("GITHUB_EVENT_PATH: not set");
        if (event != nullptr && (*event == "pull_request_target" || *event == "workflow_run")) {
            facts.forced_untrusted.push_back(*event + " without an event payload: its head repository is unknown");
        }
        return;
    }
    const std::size_t forced_before = facts.forced_untrusted.size();
    read_payload(facts, *path, event != nullptr ? *event : std::string(), read);
    // pull_request_target and workflow_run run with the base repository's secrets; if the payload
    // could not say whose code they run, assume a fork's.
    if (event != nullptr && (*event == "pull_request_target" || *event == "workflow_run") &&
        facts.forced_untrusted.size() == forced_before && facts.usable("fork") == nullptr) {
        facts.forced_untrusted.push_back(*event + " whose head repository could not be read from the payload");
    }
}

}  // namespace jobcell
