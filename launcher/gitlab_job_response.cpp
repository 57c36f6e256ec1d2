#include "launcher/gitlab_job_response.hpp"

#include <nlohmann/json.hpp>

#include "net/allowlist.hpp"
#include "sandbox/error.hpp"

namespace jobcell {
namespace {

using nlohmann::json;

bool all_digits(std::string_view text) {
    if (text.empty() || text.size() > 19) return false;
    for (char c : text)
        if (c < '0' || c > '9') return false;
    return true;
}

// A JSON integer or decimal string; a GitLab id is never 0 and never has a leading zero, which
// also keeps two spellings of one id ("7", "07") from naming two state directories.
std::optional<std::string> positive_id(const json& value) {
    std::string text;
    if (value.is_number_unsigned()) text = std::to_string(value.get<std::uint64_t>());
    else if (value.is_number_integer()) text = std::to_string(value.get<std::int64_t>());
    else if (value.is_string()) text = value.get<std::string>();
    else return std::nullopt;
    if (!all_digits(text) || text[0] == '0') return std::nullopt;
    return text;
}

}  // namespace

std::optional<std::string> gitlab_server_allow_entry(std::string_view url, std::string& why) {
    std::string_view port;
    if (url.rfind("https://", 0) == 0) {
        port = "443";
        url.remove_prefix(8);
    } else if (url.rfind("http://", 0) == 0) {
        port = "80";
        url.remove_prefix(7);
    } else {
        why = "git_info.repo_url is not an http(s) URL";
        return std::nullopt;
    }
    std::string_view authority = url.substr(0, url.find_first_of("/?#"));
    // userinfo (the runner puts gitlab-ci-token:TOKEN there) ends at the last '@'.
    if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
    std::string_view host = authority;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) {
            why = "git_info.repo_url has an unclosed [";
            return std::nullopt;
        }
        host = authority.substr(0, close + 1);
        std::string_view rest = authority.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') {
                why = "git_info.repo_url has junk after its address";
                return std::nullopt;
            }
            port = rest.substr(1);
        }
    } else if (auto colon = authority.find(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    if (host.empty()) {
        why = "git_info.repo_url has no host";
        return std::nullopt;
    }
    std::string entry = std::string(host) + ":" + std::string(port);
    try {
        parse_allow_entry(entry);  // the one judge of what an allowlist entry may be
    } catch (const Error&) {
        why = "git_info.repo_url: its host and port are not an allowlist entry";
        return std::nullopt;
    }
    return entry;
}

GitlabJobResponse parse_gitlab_job_response(const std::string& text, const std::string& where) {
    std::string error;
    json document;
    if (!meta_detail::parse_json(text, document, error)) throw Error(where + ": invalid JSON: " + error);
    if (!document.is_object()) throw Error(where + ": expected a JSON object");
    GitlabJobResponse out;
    const auto id = document.find("id");
    if (id == document.end()) throw Error(where + ": id: missing (the job id)");
    const auto job_id = positive_id(*id);
    if (!job_id) throw Error(where + ": id: expected a positive integer");
    out.job_id = *job_id;

    if (auto info = document.find("job_info"); info != document.end() && info->is_object()) {
        if (auto project = info->find("project_id"); project != info->end()) {
            if (auto value = positive_id(*project)) out.project_id = *value;
        }
    }
    out.server_note = "git_info.repo_url is missing";
    if (auto git = document.find("git_info"); git != document.end() && git->is_object()) {
        if (auto url = git->find("repo_url"); url != git->end() && url->is_string()) {
            std::string why;
            if (auto entry = gitlab_server_allow_entry(url->get_ref<const std::string&>(), why)) {
                out.server_allow = *entry;
                out.server_note.clear();
            } else {
                out.server_note = why;
            }
        }
    }
    return out;
}

GitlabJobResponse read_gitlab_job_response(const EnvList& env, const FileReader& read) {
    const std::string* path = env_get(env, "JOB_RESPONSE_FILE");
    if (path == nullptr || path->empty())
        throw Error("JOB_RESPONSE_FILE: not set (GitLab Runner's custom executor sets it in every stage)");
    const std::string where = "JOB_RESPONSE_FILE " + *path;
    std::string error;
    const std::optional<std::string> text = read(*path, error);
    if (!text) throw Error(where + ": " + error);
    return parse_gitlab_job_response(*text, where);
}

}  // namespace jobcell
