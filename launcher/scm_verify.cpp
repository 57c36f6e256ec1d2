// Verification against the SCM's API ([verify]); see scm_verify.hpp for what is asked and what
// each answer becomes.
//
// Response shapes relied on (field names only; everything else in the bodies is ignored):
//  - GitLab "Get single MR" (GET /projects/:id/merge_requests/:iid, doc/api/merge_requests.md):
//    `source_project_id`, `target_project_id` (integers; very old servers sent strings, which
//    JsonFields::id accepts too).
//  - GitLab "merge request-level approvals" (GET .../merge_requests/:iid/approvals,
//    doc/api/merge_request_approvals.md; entity API::Entities::ApprovalState): `approved`
//    (boolean: the required approvals are met, which is also true when none are required) and
//    `approved_by` (array of {user: ...}). Only `approved` with a non-empty `approved_by` counts
//    as approved: a project that requires no approvals is not thereby reviewed.
//  - GitLab "Get a single protected branch" (GET /projects/:id/protected_branches/:name,
//    doc/api/protected_branches.md): 200 with {"name": ...} when a rule of exactly that name
//    exists; 404 otherwise - and also "404 Project Not Found" when the token cannot see the
//    project, and for a branch protected only by a wildcard rule (the server looks the name up
//    with find_by!(name:)). So a 404 is settled by GET /projects/:id/repository/branches/:branch,
//    whose `protected` (ProtectedBranch.protected?, wildcards included) is the answer, and whose
//    own 404 (no such branch, no such project) leaves the fact alone.
//  - GitHub "Get a pull request" (GET /repos/{owner}/{repo}/pulls/{pull_number}, REST API
//    "pulls"): `head.repo` (null when the head repository was deleted) with `full_name` and
//    `fork`, `base.repo.full_name`, `author_association`.
#include "launcher/scm_verify.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include <curl/curl.h>
#include <dlfcn.h>
#include <nlohmann/json.hpp>

#include "launcher/metadata.hpp"
#include "sandbox/error.hpp"
#include "sandbox/fd.hpp"

namespace jobcell {

using nlohmann::json;

namespace {

constexpr std::size_t kMaxTokenBytes = 4096;

// --- the libcurl client -----------------------------------------------------------------------

struct Sink {
    std::string body;
    bool too_large = false;
};

std::size_t write_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* sink = static_cast<Sink*>(user);
    const std::size_t bytes = size * count;
    if (sink->body.size() + bytes > kMaxScmResponseBytes) {
        sink->too_large = true;
        return 0;  // makes curl_easy_perform fail with CURLE_WRITE_ERROR
    }
    sink->body.append(data, bytes);
    return bytes;
}

// libcurl is loaded only when verification is on: linking it pulls some thirty shared
// libraries (TLS, Kerberos, LDAP, ...) into every jobcell start, for a feature most runs
// never use. The few entry points we call, resolved once.
struct CurlApi {
    CURLcode (*global_init)(long) = nullptr;
    CURL* (*easy_init)() = nullptr;
    void (*easy_cleanup)(CURL*) = nullptr;
    CURLcode (*easy_setopt)(CURL*, CURLoption, ...) = nullptr;
    CURLcode (*easy_perform)(CURL*) = nullptr;
    CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...) = nullptr;
    const char* (*easy_strerror)(CURLcode) = nullptr;
    curl_slist* (*slist_append)(curl_slist*, const char*) = nullptr;
    void (*slist_free_all)(curl_slist*) = nullptr;
    std::string error;  // why it could not be loaded; empty when loaded
};

template <typename F>
void resolve(void* lib, const char* name, F& out, std::string& error) {
    out = reinterpret_cast<F>(::dlsym(lib, name));
    if (out == nullptr && error.empty()) error = std::string("libcurl: no symbol ") + name;
}

const CurlApi& curl_api() {
    static const CurlApi api = [] {
        CurlApi a;
        void* lib = ::dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
        if (lib == nullptr) {
            const char* why = ::dlerror();
            a.error = std::string("libcurl.so.4 cannot be loaded (install libcurl4): ") + (why ? why : "?");
            return a;
        }
        resolve(lib, "curl_global_init", a.global_init, a.error);
        resolve(lib, "curl_easy_init", a.easy_init, a.error);
        resolve(lib, "curl_easy_cleanup", a.easy_cleanup, a.error);
        resolve(lib, "curl_easy_setopt", a.easy_setopt, a.error);
        resolve(lib, "curl_easy_perform", a.easy_perform, a.error);
        resolve(lib, "curl_easy_getinfo", a.easy_getinfo, a.error);
        resolve(lib, "curl_easy_strerror", a.easy_strerror, a.error);
        resolve(lib, "curl_slist_append", a.slist_append, a.error);
        resolve(lib, "curl_slist_free_all", a.slist_free_all, a.error);
        if (a.error.empty()) a.global_init(CURL_GLOBAL_DEFAULT);
        return a;
    }();
    return api;
}

struct CurlFree {
    void operator()(CURL* curl) const { curl_api().easy_cleanup(curl); }
    void operator()(curl_slist* list) const { curl_api().slist_free_all(list); }
};

HttpResponse curl_get(const std::string& url, const std::vector<std::string>& headers,
                      std::chrono::milliseconds timeout) {
    HttpResponse response;
    const CurlApi& api = curl_api();
    if (!api.error.empty()) {
        response.error = api.error;
        return response;
    }
    std::unique_ptr<CURL, CurlFree> curl(api.easy_init());
    if (!curl) {
        response.error = "libcurl could not start a request";
        return response;
    }
    std::unique_ptr<curl_slist, CurlFree> list;
    for (const std::string& header : headers) {
        curl_slist* appended = api.slist_append(list.get(), header.c_str());
        if (appended == nullptr) {
            response.error = "out of memory building request headers";
            return response;
        }
        (void)list.release();
        list.reset(appended);
    }
    Sink sink;
    std::array<char, CURL_ERROR_SIZE> error{};
    const long millis = std::max<long>(1, static_cast<long>(timeout.count()));
    CURL* c = curl.get();
    api.easy_setopt(c, CURLOPT_URL, url.c_str());
    api.easy_setopt(c, CURLOPT_HTTPGET, 1L);
    api.easy_setopt(c, CURLOPT_HTTPHEADER, list.get());
    api.easy_setopt(c, CURLOPT_USERAGENT, "jobcell");
    api.easy_setopt(c, CURLOPT_WRITEFUNCTION, write_body);
    api.easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    api.easy_setopt(c, CURLOPT_ERRORBUFFER, error.data());
    api.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    api.easy_setopt(c, CURLOPT_TIMEOUT_MS, millis);
    api.easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, millis);
    // A redirect would take the token to wherever the Location points: never follow one.
    api.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    api.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    // "" disables proxies, the ones named by http_proxy/https_proxy/all_proxy included: in a
    // shell executor those are the job's own variables.
    api.easy_setopt(c, CURLOPT_PROXY, "");
    api.easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(kMaxScmResponseBytes));
    // TLS: libcurl's defaults (CURLOPT_SSL_VERIFYPEER and CURLOPT_SSL_VERIFYHOST on) stay.

    const CURLcode code = api.easy_perform(c);
    if (sink.too_large || code == CURLE_FILESIZE_EXCEEDED) {
        response.error = "response larger than " + std::to_string(kMaxScmResponseBytes >> 20) + " MiB";
        return response;
    }
    if (code != CURLE_OK) {
        response.error = error[0] != '\0' ? std::string(error.data()) : std::string(api.easy_strerror(code));
        return response;
    }
    long status = 0;
    api.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    response.status = status;
    response.body = std::move(sink.body);
    return response;
}

// --- helpers ----------------------------------------------------------------------------------

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

bool all_digits(std::string_view text) {
    if (text.empty() || text.size() > 19) return false;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

bool unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

// One path segment, percent-encoded: "feature/x" -> "feature%2Fx".
std::string encode_segment(std::string_view text) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (unreserved(c)) {
            out += ch;
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 0xF];
        }
    }
    return out;
}

// GitHub owner and repository names: letters, digits, '-', '_', '.'.
bool github_name(std::string_view text) {
    if (text.empty() || text.size() > 100 || text == "." || text == "..") return false;
    for (const char c : text) {
        if (!(unreserved(static_cast<unsigned char>(c)) && c != '~')) return false;
    }
    return true;
}

std::string without_trailing_slashes(std::string url) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
}

// The policy parser allows only https:// and http:// to 127.0.0.1 or localhost; a policy built
// in code is held to the same.
bool acceptable_base(std::string_view url) {
    if (url.starts_with("https://")) return url.size() > 8;
    for (const std::string_view local : {std::string_view("http://127.0.0.1"), std::string_view("http://localhost")}) {
        if (url.starts_with(local) &&
            (url.size() == local.size() || url[local.size()] == ':' || url[local.size()] == '/')) {
            return true;
        }
    }
    return false;
}

std::optional<std::string> usable_text(const Facts& facts, const std::string& name) {
    const Fact* fact = facts.usable(name);
    if (fact == nullptr) return std::nullopt;
    if (const auto* text = std::get_if<std::string>(&fact->value)) return *text;
    return std::nullopt;
}

std::optional<std::string> context(const Facts& facts, const std::string& key) {
    const auto found = facts.context.find(key);
    if (found == facts.context.end() || found->second.empty()) return std::nullopt;
    return found->second;
}

// --- one verification run ---------------------------------------------------------------------

class Session {
public:
    Session(const ScmVerifyPolicy& policy, Facts& facts, const HttpGet& http, std::vector<std::string> headers)
        : policy_(policy), facts_(facts), http_(http), headers_(std::move(headers)) {}

    void warn(const std::string& text) { facts_.warnings.push_back("SCM API: " + text); }

    // GET url and parse a JSON object. 404 is returned as {404, null} when allow_404. Anything
    // else that is not a 2xx JSON object is a warning and nullopt. After a request that got no
    // response at all (refused, timeout) the run asks nothing more: the next would most likely
    // wait as long again.
    struct Got {
        long status = 0;
        json document;
    };
    std::optional<Got> get(const std::string& url, bool allow_404) {
        if (gave_up_) {
            warn("GET " + url + ": not asked, an earlier request got no response");
            return std::nullopt;
        }
        HttpResponse response;
        try {
            response = http_(url, headers_, policy_.timeout);
        } catch (const std::exception& e) {
            response = HttpResponse{0, {}, e.what()};
        } catch (...) {
            response = HttpResponse{0, {}, "unknown failure"};
        }
        if (!response.error.empty() || response.status == 0) {
            warn("GET " + url + ": " + (response.error.empty() ? std::string("no response") : response.error) +
                 "; facts left unverified");
            gave_up_ = true;
            return std::nullopt;
        }
        if (response.status == 404 && allow_404) return Got{404, json()};
        if (response.status < 200 || response.status > 299) {
            warn("GET " + url + ": HTTP " + std::to_string(response.status) + "; facts left unverified");
            return std::nullopt;
        }
        Got got{response.status, json()};
        std::string error;
        if (!meta_detail::parse_json(response.body, got.document, error)) {
            warn("GET " + url + ": invalid JSON: " + error);
            return std::nullopt;
        }
        if (!got.document.is_object()) {
            warn("GET " + url + ": expected a JSON object");
            return std::nullopt;
        }
        return got;
    }

    meta_detail::JsonFields fields(const json& document, const std::string& url) {
        return meta_detail::JsonFields(document, "SCM API: GET " + url, facts_.warnings);
    }

    void set(const std::string& name, FactValue value, const std::string& url, std::string_view field) {
        facts_.set_trusted(name, std::move(value), FactSource::scm_api, "SCM API " + url + " " + std::string(field));
    }

    Facts& facts() { return facts_; }

private:
    const ScmVerifyPolicy& policy_;
    Facts& facts_;
    const HttpGet& http_;
    std::vector<std::string> headers_;
    bool gave_up_ = false;
};

void verify_gitlab_mr(Session& s, const std::string& api, const std::string& project, const std::string& iid) {
    const std::string url = api + "/projects/" + encode_segment(project) + "/merge_requests/" + iid;
    if (const auto got = s.get(url, false)) {
        auto fields = s.fields(got->document, url);
        const auto source = fields.id("source_project_id", true);
        const auto target = fields.id("target_project_id", true);
        if (source) s.set("source_repo", *source, url, "source_project_id");
        if (target) s.set("target_repo", *target, url, "target_project_id");
        if (source && target) s.set("fork", *source != *target, url, "source_project_id vs target_project_id");
    }

    const std::string approvals_url = url + "/approvals";
    if (const auto got = s.get(approvals_url, false)) {
        auto fields = s.fields(got->document, approvals_url);
        const auto approved = fields.flag("approved", true);
        if (approved == false) {
            s.set("approved", false, approvals_url, "approved");
        } else if (approved == true) {
            const json* by = fields.at("approved_by", true);
            if (by != nullptr && by->is_array()) {
                // approved is also true when the project requires no approval: only an approval
                // someone gave counts.
                s.set("approved", !by->empty(), approvals_url,
                      by->empty() ? "approved (true, but approved_by is empty: nobody approved)"
                                  : "approved and approved_by");
            } else if (by != nullptr) {
                fields.warn("approved_by", "expected an array");
            }
        }
    }
}

void verify_gitlab_branch(Session& s, const std::string& api, const std::string& project, const std::string& ref) {
    const std::string base = api + "/projects/" + encode_segment(project);
    const std::string url = base + "/protected_branches/" + encode_segment(ref);
    const auto got = s.get(url, true);
    if (!got) return;
    if (got->status != 404) {
        auto fields = s.fields(got->document, url);
        if (fields.text("name", true)) s.set("ref_protected", true, url, "(200: a protected branch rule of this name)");
        return;
    }
    // 404: no rule of exactly this name - or no such project for this token, or a wildcard rule.
    const std::string branch_url = base + "/repository/branches/" + encode_segment(ref);
    if (const auto branch = s.get(branch_url, false)) {
        auto fields = s.fields(branch->document, branch_url);
        if (const auto flag = fields.flag("protected", true)) {
            s.set("ref_protected", *flag, branch_url, "protected (after 404 from " + url + ")");
        }
    }
}

void verify_github_pr(Session& s, const std::string& api, const std::string& owner, const std::string& name,
                      const std::string& number) {
    const std::string url = api + "/repos/" + owner + "/" + name + "/pulls/" + number;
    const auto got = s.get(url, false);
    if (!got) return;
    auto fields = s.fields(got->document, url);
    const auto base = fields.text("base.repo.full_name", true);
    if (base) s.set("target_repo", *base, url, "base.repo.full_name");

    std::optional<bool> fork;
    if (const json* repo = fields.at("head.repo", true); repo != nullptr) {
        if (repo->is_null()) {
            fork = true;  // the head repository was deleted: a fork that is gone
            s.set("fork", true, url, "head.repo (null: deleted fork)");
        } else if (!repo->is_object()) {
            fields.warn("head.repo", "expected an object");
        } else {
            const auto head = fields.text("head.repo.full_name", true);
            if (head) s.set("source_repo", *head, url, "head.repo.full_name");
            const auto head_fork = fields.flag("head.repo.fork", false);
            if (head_fork == true) {
                s.set("fork", true, url, "head.repo.fork");
            } else if (head && base) {
                s.set("fork", *head != *base, url, "head.repo.full_name vs base.repo.full_name");
            }
        }
    }
    if (const auto association = fields.text("author_association", true)) {
        s.set("author_association", *association, url, "author_association");
    }
}

}  // namespace

HttpGet curl_http_get() {
    return curl_get;
}

std::string read_scm_token(const std::string& path, std::string& problem) {
    const std::string where = "token_file " + path + ": ";
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd.valid()) {
        problem = where + errno_text(errno);
        return {};
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        problem = where + errno_text(errno);
        return {};
    }
    if (!S_ISREG(st.st_mode)) {
        problem = where + "not a regular file";
        return {};
    }
    if (st.st_uid != 0) {
        problem = where + "owned by uid " + std::to_string(st.st_uid) + ", not root";
        return {};
    }
    if ((st.st_mode & 077) != 0) {
        static constexpr char kOctal[] = "01234567";
        const unsigned mode = st.st_mode & 0777;
        const std::string text{'0', kOctal[(mode >> 6) & 7], kOctal[(mode >> 3) & 7], kOctal[mode & 7]};
        problem = where + "mode " + text + " lets group or others at the token; chmod 600 it";
        return {};
    }
    std::string token;
    std::array<char, 1024> buffer{};
    for (;;) {
        const ssize_t got = ::read(fd.get(), buffer.data(), buffer.size());
        if (got < 0) {
            if (errno == EINTR) continue;
            problem = where + errno_text(errno);
            return {};
        }
        if (got == 0) break;
        token.append(buffer.data(), static_cast<std::size_t>(got));
        if (token.size() > kMaxTokenBytes) {
            problem = where + "longer than " + std::to_string(kMaxTokenBytes) + " bytes, not a token";
            return {};
        }
    }
    std::size_t begin = 0;
    std::size_t end = token.size();
    while (begin < end && is_space(token[begin])) ++begin;
    while (end > begin && is_space(token[end - 1])) --end;
    token = token.substr(begin, end - begin);
    if (token.empty()) {
        problem = where + "empty";
        return {};
    }
    for (const char c : token) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f) {
            problem = where + "holds more than one word or a control character; expected one token";
            return {};
        }
    }
    return token;
}

void verify_with_scm(const ScmVerifyPolicy& policy, Facts& facts, const HttpGet& http) {
    if (!policy.enabled) return;
    const auto ci = usable_text(facts, "ci");
    if (!ci) return;

    // What there is to ask, before reading the token: a job with nothing to verify needs none.
    std::optional<std::string> gitlab_project, gitlab_mr, gitlab_branch;
    std::optional<std::string> github_owner, github_name_part, github_pr;
    std::string api;
    std::vector<std::string> skipped;

    if (*ci == "gitlab") {
        gitlab_project = context(facts, "gitlab_project_id");
        gitlab_mr = context(facts, "gitlab_mr_iid");
        if (gitlab_mr && !all_digits(*gitlab_mr)) {
            skipped.push_back("merge request iid '" + *gitlab_mr + "' is not a number");
            gitlab_mr.reset();
        }
        const Fact* change_request = facts.usable("change_request");
        const bool is_change_request = change_request != nullptr && change_request->value == FactValue{true};
        const auto ref = usable_text(facts, "ref");
        if (!gitlab_mr && !is_change_request && usable_text(facts, "ref_type") == std::string("branch") && ref &&
            !ref->starts_with("refs/")) {
            gitlab_branch = ref;
        }
        if (!gitlab_mr && !gitlab_branch) return;
        if (!gitlab_project) {
            facts.warnings.push_back("SCM API: no trusted GitLab project id (job_info.project_id): nothing verified");
            return;
        }
        if (policy.gitlab_url.empty()) {
            facts.warnings.push_back("SCM API: [verify] has no gitlab_url: GitLab facts not verified");
            return;
        }
        if (!acceptable_base(policy.gitlab_url)) {
            facts.warnings.push_back("SCM API: gitlab_url " + policy.gitlab_url +
                                     ": expected https:// (http:// only to 127.0.0.1 or localhost); nothing verified");
            return;
        }
        api = without_trailing_slashes(policy.gitlab_url) + "/api/v4";
    } else if (*ci == "github") {
        github_pr = context(facts, "github_pr_number");
        if (!github_pr) return;
        if (!all_digits(*github_pr)) {
            facts.warnings.push_back("SCM API: pull request number '" + *github_pr + "' is not a number: nothing verified");
            return;
        }
        const auto repository = usable_text(facts, "target_repo");
        const auto slash = repository ? repository->find('/') : std::string::npos;
        if (!repository || slash == std::string::npos ||
            !github_name(std::string_view(*repository).substr(0, slash)) ||
            !github_name(std::string_view(*repository).substr(slash + 1))) {
            facts.warnings.push_back("SCM API: no trusted target repository of the form owner/name: pull request not verified");
            return;
        }
        github_owner = repository->substr(0, slash);
        github_name_part = repository->substr(slash + 1);
        if (!acceptable_base(policy.github_api_url)) {
            facts.warnings.push_back("SCM API: github_api_url " + policy.github_api_url +
                                     ": expected https:// (http:// only to 127.0.0.1 or localhost); nothing verified");
            return;
        }
        api = without_trailing_slashes(policy.github_api_url);
    } else {
        return;
    }
    for (const auto& reason : skipped) facts.warnings.push_back("SCM API: " + reason + ": not verified");

    std::string problem;
    const std::string token = read_scm_token(policy.token_file, problem);
    if (token.empty()) {
        facts.warnings.push_back("SCM API: " + problem + "; refused, nothing verified");
        return;
    }

    if (*ci == "gitlab") {
        Session session(policy, facts, http, {"PRIVATE-TOKEN: " + token, "Accept: application/json"});
        if (gitlab_mr) verify_gitlab_mr(session, api, *gitlab_project, *gitlab_mr);
        if (gitlab_branch) verify_gitlab_branch(session, api, *gitlab_project, *gitlab_branch);
    } else {
        Session session(policy, facts, http,
                        {"Authorization: Bearer " + token, "Accept: application/vnd.github+json",
                         "X-GitHub-Api-Version: 2022-11-28"});
        verify_github_pr(session, api, *github_owner, *github_name_part, *github_pr);
    }
    derive_facts(facts);
}

}  // namespace jobcell
