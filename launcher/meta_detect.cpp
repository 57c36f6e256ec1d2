// --meta: choosing an adapter, reading files for it, and the facts derived after any adapter.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include <nlohmann/json.hpp>

#include "launcher/metadata.hpp"
#include "sandbox/error.hpp"
#include "sandbox/fd.hpp"

namespace jobcell {

using nlohmann::json;

MetaRequest parse_meta_request(std::string_view text) {
    if (text == "auto") return {MetaKind::automatic, {}};
    if (text == "gitlab") return {MetaKind::gitlab, {}};
    if (text == "github") return {MetaKind::github, {}};
    if (text == "none") return {MetaKind::none, {}};
    if (text.substr(0, 5) == "file:" && text.size() > 5) return {MetaKind::file, std::string(text.substr(5))};
    throw Error("--meta " + std::string(text) + ": expected auto, gitlab, github, file:PATH or none");
}

const char* meta_kind_name(MetaKind kind) {
    switch (kind) {
    case MetaKind::automatic: return "auto";
    case MetaKind::gitlab: return "gitlab";
    case MetaKind::github: return "github";
    case MetaKind::file: return "file";
    case MetaKind::none: return "none";
    }
    return "none";
}

namespace {

bool is_set(const EnvList& env, std::string_view name) {
    const std::string* value = env_get(env, name);
    return value != nullptr && !value->empty();
}

constexpr const char* kGitlabMarkers[] = {"JOB_RESPONSE_FILE", "CUSTOM_ENV_CI", "CUSTOM_ENV_GITLAB_CI", "GITLAB_CI"};

}  // namespace

MetaKind detect_meta_kind(const EnvList& env) {
    // CUSTOM_ENV_GITLAB_CI too: a custom executor job always has it, and choosing the GitLab
    // adapter without a response file only records untrusted facts and a warning to explain.
    for (const char* name : kGitlabMarkers) {
        if (is_set(env, name)) return MetaKind::gitlab;
    }
    if (is_set(env, "GITHUB_ACTIONS")) return MetaKind::github;
    return MetaKind::none;
}

FileReader real_file_reader() {
    return [](const std::string& path, std::string& error) -> std::optional<std::string> {
        // O_NONBLOCK: opening a FIFO someone put in place of the file must not hang the launcher.
        Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
        if (!fd.valid()) {
            error = errno_text(errno);
            return std::nullopt;
        }
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0) {
            error = errno_text(errno);
            return std::nullopt;
        }
        if (!S_ISREG(st.st_mode)) {
            error = "not a regular file";
            return std::nullopt;
        }
        std::string text;
        std::array<char, 65536> buffer{};
        for (;;) {
            const ssize_t got = ::read(fd.get(), buffer.data(), buffer.size());
            if (got < 0) {
                if (errno == EINTR) continue;
                error = errno_text(errno);
                return std::nullopt;
            }
            if (got == 0) break;
            if (text.size() + static_cast<std::size_t>(got) > kMaxMetadataBytes) {
                error = "larger than " + std::to_string(kMaxMetadataBytes >> 20) + " MiB";
                return std::nullopt;
            }
            text.append(buffer.data(), static_cast<std::size_t>(got));
        }
        return text;
    };
}

bool is_external_author_association(std::string_view association) {
    // GitHub's CommentAuthorAssociation values for people without a role in the repository.
    // CONTRIBUTOR (merged before, but no role) is external too: a past merge grants nothing.
    for (std::string_view external : {"FIRST_TIME_CONTRIBUTOR", "FIRST_TIMER", "NONE", "MANNEQUIN", "CONTRIBUTOR"}) {
        if (association == external) return true;
    }
    return false;
}

void derive_facts(Facts& facts) {
    const Fact* source = facts.usable("source_repo");
    const Fact* target = facts.usable("target_repo");
    if (source != nullptr && target != nullptr) {
        const bool differ = source->value != target->value;
        const auto existing = facts.trusted.find("fork");
        const bool says_fork = existing != facts.trusted.end() && existing->second.value == FactValue{true};
        // A trusted "fork" stays: a source may always lower trust, and GitHub's head.repo.fork
        // can be true for a same-repository change in a repository that is itself a fork.
        if (!says_fork) {
            facts.set_trusted("fork", differ, FactSource::derived,
                              "source_repo " + std::string(differ ? "!=" : "==") + " target_repo");
        }
    }

    for (const auto* side : {&facts.trusted, &facts.untrusted}) {
        const auto found = side->find("author_association");
        if (found == side->end()) continue;
        const std::string text = fact_value_text(found->second.value);
        if (is_external_author_association(text)) {
            const std::string reason =
                "author_association " + text + " (" + found->second.origin + "): an author from outside the project";
            if (std::find(facts.forced_untrusted.begin(), facts.forced_untrusted.end(), reason) ==
                facts.forced_untrusted.end()) {
                facts.forced_untrusted.push_back(reason);
            }
        }
    }
}

std::string conflicting_ci_markers(const EnvList& env) {
    std::string gitlab;
    for (const char* name : kGitlabMarkers)
        if (gitlab.empty() && is_set(env, name)) gitlab = name;
    if (gitlab.empty() || !is_set(env, "GITHUB_ACTIONS")) return "";
    return "markers of two CI systems are set (" + gitlab + " and GITHUB_ACTIONS): one of them was set by the job, "
           "so neither system's metadata is read";
}

Facts read_facts(const MetaRequest& request, const EnvList& env, const FileReader& read) {
    Facts facts;
    // Each system lets a job set the other's marker (a GitLab variable GITHUB_ACTIONS, a GitHub
    // workflow env JOB_RESPONSE_FILE), and each adapter trusts its own files: guessing between
    // them would let the job choose which forged file is read.
    if (request.kind == MetaKind::automatic) {
        if (std::string conflict = conflicting_ci_markers(env); !conflict.empty()) {
            facts.adapter = "none";
            facts.warnings.push_back(conflict);
            derive_facts(facts);
            return facts;
        }
    }
    const MetaKind kind = request.kind == MetaKind::automatic ? detect_meta_kind(env) : request.kind;
    switch (kind) {
    case MetaKind::gitlab: read_gitlab_facts(facts, env, read); break;
    case MetaKind::github: read_github_facts(facts, env, read); break;
    case MetaKind::file: read_file_facts(facts, request.path, read); break;
    case MetaKind::automatic:
    case MetaKind::none:
        facts.adapter = "none";
        facts.warnings.push_back(request.kind == MetaKind::none
                                     ? "--meta none: no metadata read"
                                     : "no CI metadata found (none of JOB_RESPONSE_FILE, CUSTOM_ENV_CI, "
                                       "CUSTOM_ENV_GITLAB_CI, GITLAB_CI, GITHUB_ACTIONS is set)");
        break;
    }
    derive_facts(facts);
    return facts;
}

namespace meta_detail {

bool parse_json(const std::string& text, json& out, std::string& error) {
    // Metadata decides trust, so what a JSON parser would quietly resolve is refused instead:
    // a key given twice (which value wins is the parser's choice, not the writer's), and
    // nesting deeper than any CI payload has (it costs memory, not information).
    constexpr int kMaxDepth = 64;
    std::vector<std::vector<std::string>> keys;  // per open object, the keys seen so far
    std::string problem;
    auto check = [&](int depth, json::parse_event_t event, json& parsed) {
        switch (event) {
        case json::parse_event_t::object_start:
        case json::parse_event_t::array_start:
            if (depth >= kMaxDepth && problem.empty()) problem = "nested deeper than " + std::to_string(kMaxDepth) + " levels";
            if (event == json::parse_event_t::object_start) keys.emplace_back();
            break;
        case json::parse_event_t::object_end:
            if (!keys.empty()) keys.pop_back();
            break;
        case json::parse_event_t::key:
            if (!keys.empty() && parsed.is_string()) {
                const std::string& key = parsed.get_ref<const std::string&>();
                auto& seen = keys.back();
                if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
                    if (problem.empty()) problem = "key '" + key + "' given twice in one object";
                } else {
                    seen.push_back(key);
                }
            }
            break;
        default:
            break;
        }
        if (!problem.empty()) throw std::runtime_error(problem);
        return true;
    };
    try {
        out = json::parse(text, check);
        return true;
    } catch (const json::exception& e) {
        // "[json.exception.parse_error.101] parse error at line 1, column 2: ...; last read: 'x'"
        // -> from "parse error", without what was last read: that would echo bytes of whatever
        // file a job managed to point us at.
        std::string what = e.what();
        const auto bracket = what.find("] ");
        error = bracket == std::string::npos ? what : what.substr(bracket + 2);
        if (const auto last = error.find("; last read"); last != std::string::npos) error.erase(last);
        return false;
    } catch (const std::runtime_error&) {
        error = problem;
        return false;
    }
}

namespace {

const char* type_text(const json& value) {
    switch (value.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: return "a number";
    default: return "a value";
    }
}

}  // namespace

JsonFields::JsonFields(const json& root, std::string where, std::vector<std::string>& warnings)
    : root_(root), where_(std::move(where)), warnings_(warnings) {}

void JsonFields::warn(std::string_view path, std::string_view problem) {
    std::string warning = where_ + ": " + std::string(path) + ": " + std::string(problem);
    // "git_info: expected an object" would otherwise repeat for every field read below it.
    if (std::find(warnings_.begin(), warnings_.end(), warning) == warnings_.end()) {
        warnings_.push_back(std::move(warning));
    }
}

const json* JsonFields::at(std::string_view path, bool required) {
    const json* node = &root_;
    std::size_t start = 0;
    for (;;) {
        const std::size_t dot = path.find('.', start);
        const std::string key(path.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
        if (!node->is_object()) {
            // The step before this key holds something else; name that step, once.
            const std::string_view step = path.substr(0, start == 0 ? 0 : start - 1);
            if (!node->is_null() || required) {
                warn(step.empty() ? std::string_view("(document)") : step,
                     std::string("expected an object, got ") + type_text(*node));
            }
            return nullptr;
        }
        const auto found = node->find(key);
        if (found == node->end()) {
            if (required) warn(path, "missing");
            return nullptr;
        }
        node = &*found;
        if (dot == std::string_view::npos) return node;
        start = dot + 1;
    }
}

std::optional<std::string> JsonFields::text(std::string_view path, bool required) {
    const json* value = at(path, required);
    if (value == nullptr) return std::nullopt;
    if (value->is_null()) {
        if (required) warn(path, "null");
        return std::nullopt;
    }
    if (!value->is_string()) {
        warn(path, "expected a string");
        return std::nullopt;
    }
    const auto& text = value->get_ref<const std::string&>();
    if (text.empty()) {
        if (required) warn(path, "empty");
        return std::nullopt;
    }
    if (text.size() > kMaxFactText) {
        warn(path, "longer than " + std::to_string(kMaxFactText) + " bytes");
        return std::nullopt;
    }
    return text;
}

std::optional<bool> JsonFields::flag(std::string_view path, bool required) {
    const json* value = at(path, required);
    if (value == nullptr) return std::nullopt;
    if (value->is_null()) {
        if (required) warn(path, "null");
        return std::nullopt;
    }
    if (!value->is_boolean()) {
        warn(path, "expected a boolean");
        return std::nullopt;
    }
    return value->get<bool>();
}

std::optional<std::string> JsonFields::id(std::string_view path, bool required) {
    const json* value = at(path, required);
    if (value == nullptr) return std::nullopt;
    if (value->is_number_unsigned()) return std::to_string(value->get<std::uint64_t>());
    if (value->is_number_integer() && value->get<std::int64_t>() >= 0) {
        return std::to_string(value->get<std::int64_t>());
    }
    if (value->is_string()) return text(path, required);
    if (value->is_null()) {
        if (required) warn(path, "null");
        return std::nullopt;
    }
    warn(path, "expected a non-negative integer");
    return std::nullopt;
}

}  // namespace meta_detail

}  // namespace jobcell
