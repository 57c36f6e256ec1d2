// SCM verification ([verify]) through the real libcurl client against a small HTTP server this
// test starts on 127.0.0.1. The server answers each path with a recorded response shape (status
// and JSON body, the fields GitLab's and GitHub's documentation show), records what it was asked,
// and stops by itself: when the test ends, or at the latest after 30 s.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "tests/unit/fact_helpers.hpp"
#include "launcher/metadata.hpp"
#include "launcher/policy.hpp"
#include "launcher/scm_verify.hpp"
#include "launcher/trust.hpp"

using namespace jobcell;
using namespace jobcell::testing;
using namespace std::chrono_literals;

namespace {

constexpr const char* kToken = "glpat-s3cret-canary-token";

// --- the local server -------------------------------------------------------------------------

struct Route {
    Route(int status_ = 200, std::string body_ = {}, bool hang_ = false, std::string extra_headers_ = {})
        : status(status_), body(std::move(body_)), hang(hang_), extra_headers(std::move(extra_headers_)) {}
    int status;
    std::string body;
    bool hang;  // read the request, never answer
    std::string extra_headers;
};

struct Seen {
    std::string path;
    std::string head;  // request line and headers as received
};

class LocalServer {
public:
    explicit LocalServer(std::map<std::string, Route> routes) : routes_(std::move(routes)) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        address.sin_port = 0;
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        REQUIRE(::listen(fd_, 8) == 0);
        socklen_t length = sizeof address;
        REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0);
        port_ = ntohs(address.sin_port);
        thread_ = std::thread([this] { run(); });
    }
    ~LocalServer() {
        stop_ = true;
        thread_.join();
        ::close(fd_);
    }
    LocalServer(const LocalServer&) = delete;
    LocalServer& operator=(const LocalServer&) = delete;

    std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }
    std::vector<Seen> seen() const {
        std::lock_guard lock(mutex_);
        return seen_;
    }
    std::vector<std::string> paths() const {
        std::vector<std::string> out;
        for (const auto& s : seen()) out.push_back(s.path);
        return out;
    }

private:
    bool running() const { return !stop_ && std::chrono::steady_clock::now() < deadline_; }

    // Waits up to 50 ms for `fd` to become readable.
    static bool readable(int fd) {
        pollfd p{fd, POLLIN, 0};
        return ::poll(&p, 1, 50) > 0;
    }

    void run() {
        while (running()) {
            if (!readable(fd_)) continue;
            const int connection = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (connection < 0) continue;
            serve(connection);
            ::close(connection);
        }
    }

    void serve(int connection) {
        std::string request;
        char buffer[4096];
        while (running() && request.find("\r\n\r\n") == std::string::npos && request.size() < 65536) {
            if (!readable(connection)) continue;
            const ssize_t got = ::recv(connection, buffer, sizeof buffer, 0);
            if (got <= 0) return;
            request.append(buffer, static_cast<std::size_t>(got));
        }
        const auto space = request.find(' ');
        const auto space2 = request.find(' ', space + 1);
        if (space == std::string::npos || space2 == std::string::npos) return;
        const std::string path = request.substr(space + 1, space2 - space - 1);
        {
            std::lock_guard lock(mutex_);
            seen_.push_back({path, request.substr(0, request.find("\r\n\r\n"))});
        }
        const auto found = routes_.find(path);
        const Route route = found != routes_.end() ? found->second : Route{404, R"({"message":"404 Not found"})"};
        if (route.hang) {
            // Hold the connection until the client gives up (or the test ends).
            while (running()) {
                if (readable(connection) && ::recv(connection, buffer, sizeof buffer, 0) <= 0) return;
            }
            return;
        }
        const std::string response = "HTTP/1.1 " + std::to_string(route.status) +
                                     " Whatever\r\nContent-Type: application/json\r\nContent-Length: " +
                                     std::to_string(route.body.size()) + "\r\n" + route.extra_headers +
                                     "Connection: close\r\n\r\n" + route.body;
        std::size_t sent = 0;
        while (sent < response.size() && running()) {
            const ssize_t n = ::send(connection, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) return;
            sent += static_cast<std::size_t>(n);
        }
    }

    std::map<std::string, Route> routes_;
    int fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    const std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::now() + 30s;
    mutable std::mutex mutex_;
    std::vector<Seen> seen_;
    std::thread thread_;
};

// A port nothing listens on: bound, then closed.
int closed_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    socklen_t length = sizeof address;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    ::close(fd);
    return ntohs(address.sin_port);
}

// --- the operator's token file ----------------------------------------------------------------

class TokenDir {
public:
    TokenDir() {
        char pattern[] = "/tmp/jobcell-scm-test-XXXXXX";
        REQUIRE(::mkdtemp(pattern) != nullptr);
        dir_ = pattern;
        path_ = dir_ + "/token";
        write(std::string(kToken) + "\n", 0600);
    }
    ~TokenDir() { std::filesystem::remove_all(dir_); }
    TokenDir(const TokenDir&) = delete;
    TokenDir& operator=(const TokenDir&) = delete;

    void write(const std::string& text, mode_t mode) const {
        std::ofstream(path_, std::ios::trunc) << text;
        REQUIRE(::chmod(path_.c_str(), mode) == 0);
    }
    const std::string& path() const { return path_; }

private:
    std::string dir_, path_;
};

// The token file must be root's; tests that need it accepted need root (CI runs as root).
bool running_as_root() {
    if (::geteuid() == 0) return true;
    WARN("not root: a token file this test writes is not root's, so verification is refused; skipped");
    return false;
}

ScmVerifyPolicy verify_policy(const std::string& base, const std::string& token_file,
                              std::chrono::milliseconds timeout = 3s) {
    ScmVerifyPolicy policy;
    policy.enabled = true;
    policy.gitlab_url = base;
    policy.github_api_url = base;
    policy.token_file = token_file;
    policy.timeout = timeout;
    return policy;
}

// --- facts as the adapters produce them --------------------------------------------------------

const std::string kResponsePath = "/builds/response.json";

Facts gitlab_facts(const std::string& response) {
    return read_facts({MetaKind::gitlab, {}}, {{"JOB_RESPONSE_FILE", kResponsePath}},
                      fake_reader({{kResponsePath, response}}));
}

// A merge request pipeline in the target project, as GitLab sends it.
const std::string kMrResponse = R"({"id": 1, "token": "t",
 "job_info": {"name": "test", "stage": "test", "project_id": 4711, "project_name": "widget", "project_full_path": "acme/widget"},
 "git_info": {"repo_url": "https://gitlab.example.test/acme/widget.git", "ref": "refs/merge-requests/77/head", "sha": "b2c3", "before_sha": "0000", "ref_type": "branch", "refspecs": ["+refs/pipelines/5003:refs/pipelines/5003"], "depth": 20, "protected": false}})";

std::string branch_response(const std::string& ref, const std::string& protected_field) {
    return R"({"id": 2, "job_info": {"project_id": 4711, "project_full_path": "acme/widget"},
 "git_info": {"ref": ")" + ref + R"(", "sha": "a1b2", "ref_type": "branch", "refspecs": ["+refs/heads/)" + ref +
           ":refs/remotes/origin/" + ref + "\"]" + protected_field + "}}";
}

const std::string kEventPath = "/runner/_temp/event.json";

Facts github_facts(const std::string& head_repo, const std::string& association) {
    const std::string payload = R"({"action": "opened", "number": 12,
      "pull_request": {"number": 12, "author_association": ")" + association + R"(",
        "head": {"ref": "patch-1", "sha": "3333", "repo": )" + head_repo + R"(},
        "base": {"ref": "main", "sha": "4444", "repo": {"full_name": "acme/widget", "fork": false}}},
      "repository": {"full_name": "acme/widget", "fork": false}})";
    const EnvList env = {{"GITHUB_ACTIONS", "true"},          {"GITHUB_EVENT_NAME", "pull_request"},
                         {"GITHUB_EVENT_PATH", kEventPath},   {"GITHUB_REPOSITORY", "acme/widget"},
                         {"GITHUB_REF", "refs/pull/12/merge"}};
    return read_facts({MetaKind::github, {}}, env, fake_reader({{kEventPath, payload}}));
}

// --- recorded response shapes --------------------------------------------------------------------

// GitLab "Get single MR": only source_project_id and target_project_id are read.
std::string gitlab_mr(int source, int target) {
    return R"({"id": 9001, "iid": 77, "project_id": )" + std::to_string(target) +
           R"(, "title": "Faster parser", "state": "opened", "target_branch": "main", "source_branch": "faster-parser",
  "source_project_id": )" + std::to_string(source) + R"(, "target_project_id": )" + std::to_string(target) +
           R"(, "author": {"id": 12, "username": "dev", "name": "Dev", "state": "active"},
  "sha": "b2c3", "merge_status": "can_be_merged", "detailed_merge_status": "mergeable", "draft": false,
  "web_url": "https://gitlab.example.test/acme/widget/-/merge_requests/77"})";
}

// GitLab "merge request-level approvals" (API::Entities::ApprovalState).
std::string gitlab_approvals(bool approved, bool someone) {
    return R"({"id": 9001, "iid": 77, "project_id": 4711, "title": "Faster parser", "state": "opened",
  "merge_status": "can_be_merged", "approved": )" + std::string(approved ? "true" : "false") +
           R"(, "approvals_required": 1, "approvals_left": )" + std::string(approved ? "0" : "1") +
           R"(, "require_password_to_approve": false, "approved_by": )" +
           (someone ? R"([{"user": {"id": 1, "username": "maintainer", "name": "M", "state": "active"}}])" : "[]") + "}";
}

// GitLab "Get a single protected branch".
const std::string kProtectedMain = R"({"id": 1, "name": "main",
  "push_access_levels": [{"id": 1, "access_level": 40, "access_level_description": "Maintainers", "deploy_key_id": null, "user_id": null, "group_id": null}],
  "merge_access_levels": [{"id": 1, "access_level": 40, "access_level_description": "Maintainers", "user_id": null, "group_id": null}],
  "allow_force_push": false, "unprotect_access_levels": [], "code_owner_approval_required": false, "inherited": false})";

// GitLab "Get a single repository branch".
std::string gitlab_branch(const std::string& name, bool is_protected) {
    return R"({"name": ")" + name + R"(", "merged": false, "protected": )" + (is_protected ? "true" : "false") +
           R"(, "default": false, "developers_can_push": true, "developers_can_merge": true, "can_push": true,
  "web_url": "https://gitlab.example.test/acme/widget/-/tree/x", "commit": {"id": "a1b2", "short_id": "a1b2"}})";
}

// GitHub "Get a pull request" (the fields read, plus some of the rest).
std::string github_pull(const std::string& head_repo, const std::string& association) {
    return R"({"url": "https://api.github.com/repos/acme/widget/pulls/12", "id": 1, "number": 12, "state": "open",
  "user": {"login": "someone", "id": 7, "type": "User"}, "author_association": ")" + association + R"(",
  "head": {"label": "x:patch-1", "ref": "patch-1", "sha": "3333", "repo": )" + head_repo + R"(},
  "base": {"label": "acme:main", "ref": "main", "sha": "4444",
           "repo": {"id": 2, "name": "widget", "full_name": "acme/widget", "fork": false, "owner": {"login": "acme"}}},
  "draft": false, "merged": false})";
}

const std::string kMrPath = "/api/v4/projects/4711/merge_requests/77";
const std::string kApprovalsPath = kMrPath + "/approvals";

// --- checks --------------------------------------------------------------------------------------

bool from_api(const Facts& facts, const std::string& name) {
    const auto found = facts.trusted.find(name);
    return found != facts.trusted.end() && found->second.source == FactSource::scm_api;
}

// Facts in one comparable text: names, values, sources, contradictions, forced reasons.
std::string fact_summary(const Facts& facts) {
    std::string out;
    for (const auto& [name, fact] : facts.trusted)
        out += name + "=" + fact_value_text(fact.value) + "@" + fact_source_name(fact.source) + ";";
    for (const auto& [name, fact] : facts.untrusted) out += "?" + name + "=" + fact_value_text(fact.value) + ";";
    for (const auto& [name, why] : facts.contradictions) out += "!" + name + ";";
    for (const auto& reason : facts.forced_untrusted) out += "forced:" + reason + ";";
    return out;
}

// The token appears nowhere a person or a log could see it.
void check_no_token(const Facts& facts) {
    for (const auto& warning : facts.warnings) CHECK(warning.find(kToken) == std::string::npos);
    for (const auto* side : {&facts.trusted, &facts.untrusted})
        for (const auto& [name, fact] : *side) CHECK(fact.origin.find(kToken) == std::string::npos);
    for (const auto& [name, why] : facts.contradictions) CHECK(why.find(kToken) == std::string::npos);
}

}  // namespace

// --- GitLab merge requests ------------------------------------------------------------------------

TEST_CASE("scm: a same-project GitLab merge request is verified as no fork", "[scm]") {
    if (!running_as_root()) return;
    LocalServer server({{kMrPath, {200, gitlab_mr(4711, 4711)}}, {kApprovalsPath, {200, gitlab_approvals(true, true)}}});
    TokenDir token;
    Facts facts = gitlab_facts(kMrResponse);
    REQUIRE(facts.context.at("gitlab_mr_iid") == "77");
    REQUIRE(facts.usable("fork") == nullptr);  // the job response alone cannot say
    verify_with_scm(verify_policy(server.base(), token.path()), facts, curl_http_get());

    CHECK(usable_is(facts, "source_repo", std::string("4711")));
    CHECK(from_api(facts, "source_repo"));
    CHECK(usable_is(facts, "target_repo", std::string("4711")));  // job response and API agree
    CHECK(usable_is(facts, "fork", false));
    CHECK(from_api(facts, "fork"));
    CHECK(usable_is(facts, "approved", true));
    CHECK(facts.contradictions.empty());
    CHECK(facts.trusted.at("fork").origin.find(server.base() + kMrPath) != std::string::npos);

    const auto seen = server.seen();
    REQUIRE(seen.size() == 2);
    CHECK(seen[0].path == kMrPath);
    CHECK(seen[1].path == kApprovalsPath);
    for (const auto& request : seen) {
        CHECK(request.head.find(std::string("PRIVATE-TOKEN: ") + kToken) != std::string::npos);
        CHECK(request.head.find("User-Agent: jobcell") != std::string::npos);
    }
    check_no_token(facts);
}

TEST_CASE("scm: a fork's GitLab merge request is verified as a fork", "[scm]") {
    if (!running_as_root()) return;
    LocalServer server({{kMrPath, {200, gitlab_mr(9120, 4711)}}, {kApprovalsPath, {200, gitlab_approvals(false, false)}}});
    TokenDir token;
    Facts facts = gitlab_facts(kMrResponse);
    verify_with_scm(verify_policy(server.base(), token.path()), facts, curl_http_get());
    CHECK(usable_is(facts, "source_repo", std::string("9120")));
    CHECK(usable_is(facts, "fork", true));
    CHECK(from_api(facts, "fork"));
    CHECK(usable_is(facts, "approved", false));
    check_no_token(facts);
}

TEST_CASE("scm: the API's target project disagreeing with the job response is a contradiction", "[scm]") {
    if (!running_as_root()) return;
    LocalServer server({{kMrPath, {200, gitlab_mr(5555, 5555)}}, {kApprovalsPath, {200, gitlab_approvals(true, true)}}});
    TokenDir token;
    Facts facts = gitlab_facts(kMrResponse);
    verify_with_scm(verify_policy(server.base(), token.path()), facts, curl_http_get());
    CHECK(facts.contradictions.count("target_repo") == 1);
    CHECK(facts.usable("target_repo") == nullptr);
}

TEST_CASE("scm: GitLab approvals count only when someone approved", "[scm]") {
    if (!running_as_root()) return;
    TokenDir token;
    SECTION("approved by a maintainer") {
        LocalServer server({{kMrPath, {200, gitlab_mr(4711, 4711)}}, {kApprovalsPath, {200, gitlab_approvals(true, true)}}});
        Facts facts = gitlab_facts(kMrResponse);
        verify_with_scm(verify_policy(server.base(), token.path()), facts, curl_http_get());
        CHECK(usable_is(facts, "approved", true));
        CHECK(from_api(facts, "approved"));
    }
    SECTION("not approved") {
        LocalServer server({{kMrPath, {200, gitlab_mr(4711, 4711)}}, {kApprovalsPath, {200, gitlab_approvals(false, false)}}});
        Facts facts = gitlab_facts(kMrResponse);
        verify_with_scm(verify_policy(server.base(), token.path()), facts, curl_http_get());
        CHECK(usable_is(facts, "approved", false));
    }
    SECTION("'approved' because the project requires no approval, with nobody having approved") {
        LocalServer server({{kMrPath, {200, gitlab_mr(4711, 4711)}}, {kApprovalsPath, {200, gitlab_approvals(true, false)}}});
        Facts facts = gitlab_facts(kMrResponse);
        verify_with_scm(verify_policy(server.base(), token.path()), facts, curl_http_get());
        CHECK(usable_is(facts, "approved", false));
    }
    SECTION("approvals endpoint missing (404) is a warning; the MR facts still count") {
        LocalServer server({{kMrPath, {200, gitlab_mr(4711, 4711)}}});
        Facts facts = gitlab_facts(kMrResponse);
        verify_with_scm(verify_policy(server.base(), token.path()), facts, curl_http_get());
        CHECK(facts.trusted.count("approved") == 0);
        CHECK(has_warning(facts, server.base() + kApprovalsPath + ": HTTP 404"));
        CHECK(usable_is(facts, "fork", false));
    }
}

// --- GitLab protected branches ----------------------------------------------------------------------

TEST_CASE("scm: GitLab protected branches, 200 and 404", "[scm]") {
    if (!running_as_root()) return;
    TokenDir token;
    SECTION("200: protected") {
        LocalServer server({{"/api/v4/projects/4711/protected_branches/main", {200, kProtectedMain}}});
        Facts facts = gitlab_facts(branch_response("main", ""));  // an older runner: no git_info.protected
        REQUIRE(facts.trusted.count("ref_protected") == 0);
        verify_with_scm(verify_policy(server.base(), token.path()), facts, curl_http_get());
        CHECK(usable_is(facts, "ref_protected", true));
        CHECK(from_api(facts, "ref_protected"));
        CHECK(server.paths() == std::vector<std::string>{"/api/v4/projects/4711/protected_branches/main"});
    }
    SECTION("200 agrees with the job response") {
        LocalServer server({{"/api/v4/projects/4711/protected_branches/main", {200, kProtectedMain}}});
        Facts facts = gitlab_facts(branch_response("main", R"(, "protected": true)"));
        verify_with_scm(verify_policy(server.base(), token.path()), facts, curl_http_get());
        CHECK(usable_is(facts, "ref_protected", true));
        CHECK(facts.contradictions.empty());
    }
    SECTION("404: not protected, confirmed by the branch itself; the ref is URL-encoded") {
        LocalServer server(
            {{"/api/v4/projects/4711/protected_branches/feature%2Ffaster-parser", {404, R"({"message":"404 Not found"})"}},
             {"/api/v4/projects/4711/repository/branches/feature%2Ffaster-parser",
              {200, gitlab_branch("feature/faster-parser", false)}}});
        Facts facts = gitlab_facts(branch_response("feature/faster-parser", ""));
        verify_with_scm(verify_policy(server.base(), token.path()), facts, curl_http_get());
        CHECK(usable_is(facts, "ref_protected", false));
        CHECK(from_api(facts, "ref_protected"));
        CHECK(server.paths().size() == 2);
    }
    SECTION("404 for the name, but a wildcard rule protects the branch") {
        LocalServer server({{"/api/v4/projects/4711/protected_branches/release-2", {404, R"({"message":"404 Not found"})"}},
                            {"/api/v4/projects/4711/repository/branches/release-2", {200, gitlab_branch("release-2", true)}}});
        Facts facts = gitlab_facts(branch_response("release-2", ""));
        verify_with_scm(verify_policy(server.base(), token.path()), facts, curl_http_get());
        CHECK(usable_is(facts, "ref_protected", true));
    }
    SECTION("404 everywhere (the token cannot see the project): a warning, never 'unprotected'") {
        LocalServer server({});  // every path: 404
        Facts facts = gitlab_facts(branch_response("main", ""));
        const std::string before = fact_summary(facts);
        verify_with_scm(verify_policy(server.base(), token.path()), facts, curl_http_get());
        CHECK(fact_summary(facts) == before);
        CHECK(has_warning(facts, server.base() + "/api/v4/projects/4711/repository/branches/main: HTTP 404"));
    }
    SECTION("the API saying unprotected where the job response says protected lowers trust") {
        LocalServer server({{"/api/v4/projects/4711/repository/branches/main", {200, gitlab_branch("main", false)}}});
        Facts facts = gitlab_facts(branch_response("main", R"(, "protected": true)"));
        verify_with_scm(verify_policy(server.base(), token.path()), facts, curl_http_get());
        CHECK(facts.contradictions.count("ref_protected") == 1);
        CHECK(facts.usable("ref_protected") == nullptr);
    }
    SECTION("a merge request pipeline asks about the merge request, not a branch") {
        LocalServer server({{kMrPath, {200, gitlab_mr(4711, 4711)}}, {kApprovalsPath, {200, gitlab_approvals(true, true)}}});
        Facts facts = gitlab_facts(kMrResponse);
        verify_with_scm(verify_policy(server.base(), token.path()), facts, curl_http_get());
        CHECK(server.paths() == std::vector<std::string>{kMrPath, kApprovalsPath});
    }
}

// --- GitHub pull requests -----------------------------------------------------------------------------

TEST_CASE("scm: a GitHub pull request is verified", "[scm]") {
    if (!running_as_root()) return;
    TokenDir token;
    const std::string path = "/repos/acme/widget/pulls/12";
    const std::string same = R"({"full_name": "acme/widget", "fork": false})";
    const std::string fork = R"({"full_name": "outsider/widget", "fork": true})";
    SECTION("the API agrees with the event payload") {
        LocalServer server({{path, {200, github_pull(same, "MEMBER")}}});
        Facts facts = github_facts(same, "MEMBER");
        REQUIRE(facts.context.at("github_pr_number") == "12");
        verify_with_scm(verify_policy(server.base(), token.path()), facts, curl_http_get());
        CHECK(facts.contradictions.empty());
        CHECK(usable_is(facts, "fork", false));
        CHECK(usable_is(facts, "author_association", std::string("MEMBER")));
        const auto seen = server.seen();
        REQUIRE(seen.size() == 1);
        CHECK(seen[0].path == path);
        CHECK(seen[0].head.find(std::string("Authorization: Bearer ") + kToken) != std::string::npos);
        CHECK(seen[0].head.find("Accept: application/vnd.github+json") != std::string::npos);
        check_no_token(facts);
    }
    SECTION("the API says fork and first-timer where the payload did not: contradictions, untrusted") {
        LocalServer server({{path, {200, github_pull(fork, "FIRST_TIME_CONTRIBUTOR")}}});
        Facts facts = github_facts(same, "MEMBER");
        verify_with_scm(verify_policy(server.base(), token.path()), facts, curl_http_get());
        CHECK(facts.contradictions.count("source_repo") == 1);
        CHECK(facts.contradictions.count("fork") == 1);
        CHECK(facts.contradictions.count("author_association") == 1);
        CHECK(facts.usable("author_association") == nullptr);
    }
    SECTION("the head repository was deleted") {
        LocalServer server({{path, {200, github_pull("null", "CONTRIBUTOR")}}});
        Facts facts = github_facts("null", "CONTRIBUTOR");
        verify_with_scm(verify_policy(server.base(), token.path()), facts, curl_http_get());
        CHECK(usable_is(facts, "fork", true));
        CHECK_FALSE(facts.forced_untrusted.empty());
    }
}

// --- failures: a warning, the facts as they were ---------------------------------------------------

TEST_CASE("scm: an API that cannot answer leaves the facts as they were", "[scm]") {
    if (!running_as_root()) return;
    TokenDir token;
    SECTION("connection refused") {
        const std::string base = "http://127.0.0.1:" + std::to_string(closed_port());
        Facts facts = gitlab_facts(kMrResponse);
        const std::string before = fact_summary(facts);
        verify_with_scm(verify_policy(base, token.path()), facts, curl_http_get());
        CHECK(fact_summary(facts) == before);
        CHECK(has_warning(facts, "GET " + base + kMrPath + ": "));
        check_no_token(facts);
    }
    SECTION("timeout: the server never answers") {
        LocalServer server({{kMrPath, {200, "", true}}});
        Facts facts = gitlab_facts(kMrResponse);
        const std::string before = fact_summary(facts);
        const auto start = std::chrono::steady_clock::now();
        verify_with_scm(verify_policy(server.base(), token.path(), 300ms), facts, curl_http_get());
        const auto took = std::chrono::steady_clock::now() - start;
        CHECK(took < 3s);  // one request's timeout, then nothing more is asked
        CHECK(fact_summary(facts) == before);
        CHECK(has_warning(facts, "GET " + server.base() + kMrPath + ": "));
        CHECK(has_warning(facts, kApprovalsPath + ": not asked"));
        CHECK(server.paths() == std::vector<std::string>{kMrPath});
        check_no_token(facts);
    }
    SECTION("HTTP 500") {
        LocalServer server({{kMrPath, {500, R"({"message":"500 Internal Server Error"})"}},
                            {kApprovalsPath, {500, R"({"message":"500 Internal Server Error"})"}}});
        Facts facts = gitlab_facts(kMrResponse);
        const std::string before = fact_summary(facts);
        verify_with_scm(verify_policy(server.base(), token.path()), facts, curl_http_get());
        CHECK(fact_summary(facts) == before);
        CHECK(has_warning(facts, server.base() + kMrPath + ": HTTP 500"));
        check_no_token(facts);
    }
    SECTION("401: a bad token") {
        LocalServer server({{kMrPath, {401, R"({"message":"401 Unauthorized"})"}},
                            {kApprovalsPath, {401, R"({"message":"401 Unauthorized"})"}}});
        Facts facts = gitlab_facts(kMrResponse);
        const std::string before = fact_summary(facts);
        verify_with_scm(verify_policy(server.base(), token.path()), facts, curl_http_get());
        CHECK(fact_summary(facts) == before);
        CHECK(has_warning(facts, ": HTTP 401"));
    }
    SECTION("a redirect is not followed (it would carry the token elsewhere)") {
        LocalServer server({{kMrPath, {302, "", false, "Location: http://127.0.0.1:1/steal\r\n"}},
                            {kApprovalsPath, {200, gitlab_approvals(true, true)}}});
        Facts facts = gitlab_facts(kMrResponse);
        verify_with_scm(verify_policy(server.base(), token.path()), facts, curl_http_get());
        CHECK(has_warning(facts, server.base() + kMrPath + ": HTTP 302"));
        CHECK(facts.trusted.count("source_repo") == 0);
        CHECK(server.paths() == std::vector<std::string>{kMrPath, kApprovalsPath});
    }
    SECTION("malformed JSON and missing fields") {
        LocalServer server({{kMrPath, {200, R"({"source_project_id": 4711, "target_pro)"}},
                            {kApprovalsPath, {200, R"({"approvals_required": 1})"}}});
        Facts facts = gitlab_facts(kMrResponse);
        const std::string before = fact_summary(facts);
        verify_with_scm(verify_policy(server.base(), token.path()), facts, curl_http_get());
        CHECK(fact_summary(facts) == before);
        CHECK(has_warning(facts, server.base() + kMrPath + ": invalid JSON"));
        CHECK(has_warning(facts, server.base() + kApprovalsPath + ": approved: missing"));
    }
    SECTION("a response larger than 1 MiB") {
        const std::string big = R"({"pad": ")" + std::string(kMaxScmResponseBytes, 'x') + R"("})";
        LocalServer server({{kMrPath, {200, big}}});
        Facts facts = gitlab_facts(kMrResponse);
        const std::string before = fact_summary(facts);
        verify_with_scm(verify_policy(server.base(), token.path()), facts, curl_http_get());
        CHECK(fact_summary(facts) == before);
        CHECK(has_warning(facts, "larger than 1 MiB"));
    }
}

// --- the token file and the switch ------------------------------------------------------------------

TEST_CASE("scm: the token file must be root's alone", "[scm]") {
    LocalServer server({{kMrPath, {200, gitlab_mr(4711, 4711)}}, {kApprovalsPath, {200, gitlab_approvals(true, true)}}});
    TokenDir token;
    Facts facts = gitlab_facts(kMrResponse);
    const std::string before = fact_summary(facts);
    SECTION("mode 0644: refused") {
        token.write(std::string(kToken) + "\n", 0644);
        verify_with_scm(verify_policy(server.base(), token.path()), facts, curl_http_get());
        CHECK(has_warning(facts, "token_file " + token.path() + ": "));
        CHECK(has_warning(facts, "refused, nothing verified"));
    }
    SECTION("not owned by root: refused") {
        if (::geteuid() == 0) REQUIRE(::chown(token.path().c_str(), 65534, 65534) == 0);
        verify_with_scm(verify_policy(server.base(), token.path()), facts, curl_http_get());
        CHECK(has_warning(facts, "not root"));
    }
    SECTION("missing") {
        verify_with_scm(verify_policy(server.base(), token.path() + ".missing"), facts, curl_http_get());
        CHECK(has_warning(facts, "ENOENT"));
    }
    SECTION("two lines: refused (a header must hold one token)") {
        if (!running_as_root()) return;  // otherwise refused first for its owner
        token.write(std::string(kToken) + "\nX-Other: 1\n", 0600);
        verify_with_scm(verify_policy(server.base(), token.path()), facts, curl_http_get());
        CHECK(has_warning(facts, "expected one token"));
    }
    CHECK(server.seen().empty());
    CHECK(fact_summary(facts) == before);
    check_no_token(facts);
}

TEST_CASE("scm: disabled, nothing is asked", "[scm]") {
    LocalServer server({{kMrPath, {200, gitlab_mr(9120, 4711)}}});
    TokenDir token;
    Facts facts = gitlab_facts(kMrResponse);
    const std::string before = fact_summary(facts);
    const std::size_t warnings = facts.warnings.size();
    ScmVerifyPolicy policy = verify_policy(server.base(), token.path());
    policy.enabled = false;
    verify_with_scm(policy, facts, curl_http_get());
    CHECK(server.seen().empty());
    CHECK(fact_summary(facts) == before);
    CHECK(facts.warnings.size() == warnings);
}

TEST_CASE("scm: read_scm_token trims whitespace", "[scm]") {
    if (!running_as_root()) return;
    TokenDir token;
    token.write(std::string("  ") + kToken + " \r\n", 0600);
    std::string problem;
    CHECK(read_scm_token(token.path(), problem) == kToken);
    CHECK(problem.empty());
}

// --- the whole trust step -----------------------------------------------------------------------------

TEST_CASE("scm: decide_trust with the shipped policy and a same-project GitLab merge request", "[scm]") {
    if (!running_as_root()) return;
    LocalServer server({{kMrPath, {200, gitlab_mr(4711, 4711)}}, {kApprovalsPath, {200, gitlab_approvals(true, true)}}});
    TokenDir token;
    const MetaRequest meta{MetaKind::gitlab, {}};
    const EnvList env = {{"JOB_RESPONSE_FILE", kResponsePath}};
    const FileReader read = fake_reader({{kResponsePath, kMrResponse}});

    Policy policy = parse_policy(builtin_policy_text(), "<built-in policy>");
    policy.verify = verify_policy(server.base(), token.path());
    const TrustOutcome outcome = decide_trust(policy, meta, env, read);
    // The API shows a same-project, approved merge request. GitLab has no author association,
    // so the member rule cannot match; the shipped GitLab rule does.
    CHECK(usable_is(outcome.facts, "fork", false));
    CHECK(usable_is(outcome.facts, "approved", true));
    CHECK(outcome.facts.usable("author_association") == nullptr);
    CHECK(outcome.decision.tier == "internal");
    CHECK(outcome.decision.rule == "gitlab-same-project-merge-request");
    CHECK(server.paths() == std::vector<std::string>{kMrPath, kApprovalsPath});
    // Without [verify] nothing vouches for the source project: untrusted.
    policy.verify.enabled = false;
    const TrustOutcome unverified = decide_trust(policy, meta, env, read);
    CHECK(unverified.decision.tier == "untrusted");
    CHECK(unverified.decision.rule.starts_with("fallback"));
}
