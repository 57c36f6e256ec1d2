// Optional verification of change-request facts against the SCM's own API, with the operator's
// token ([verify] in the policy; docs/scm-verification.md). Runs after the metadata adapters and
// before the rules: what the API says is recorded as trusted facts from FactSource::scm_api, so a
// value that disagrees with the job response or the event payload becomes a contradiction
// (lower trust), and a value nobody else could vouch for (a GitLab merge request's source
// project) becomes usable.
//
// Never a guess: an unreachable API, a timeout, a status other than the documented ones, a body
// that is not the expected JSON - each becomes a warning naming the URL (never the token) and
// the fact stays as the adapters left it. Nothing here throws for what the network or the SCM
// does.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "launcher/facts.hpp"
#include "launcher/policy.hpp"

namespace jobcell {

struct HttpResponse {
    long status = 0;     // HTTP status; 0 when there was no response
    std::string body;    // at most kMaxScmResponseBytes
    std::string error;   // non-empty: no usable response (refused, timeout, TLS, too large, ...)
};

// One GET. `headers` are full header lines ("Accept: application/json"). Implementations never
// follow redirects (a redirect would carry the token elsewhere) and never throw.
using HttpGet = std::function<HttpResponse(const std::string& url, const std::vector<std::string>& headers,
                                           std::chrono::milliseconds timeout)>;

// A response body larger than this is refused (an MR or a PR is a few KiB).
inline constexpr std::size_t kMaxScmResponseBytes = 1u << 20;

// The real client: libcurl, TLS verification on (libcurl's defaults), http and https only, no
// redirects, no proxy from the environment (the job may have set https_proxy), `timeout` for the
// whole request including connecting.
HttpGet curl_http_get();

// The token file must be a regular file owned by root with no group or other permission bits,
// holding one token (surrounding whitespace ignored). Returns it, or "" with `problem` set.
std::string read_scm_token(const std::string& path, std::string& problem);

// When policy.enabled: reads the token, then
//  - GitLab (usable ci == gitlab, gitlab_url set, context gitlab_project_id):
//      merge request (context gitlab_mr_iid):
//        GET {gitlab_url}/api/v4/projects/{id}/merge_requests/{iid}
//          -> source_repo, target_repo (source_project_id, target_project_id), fork
//        GET .../merge_requests/{iid}/approvals -> approved (approved, and approved_by not empty)
//      branch pipeline (usable ref_type == branch, ref not under refs/):
//        GET {gitlab_url}/api/v4/projects/{id}/protected_branches/{ref}: 200 -> ref_protected true;
//        404 -> GET .../repository/branches/{ref} and its `protected` (which also knows wildcard
//        rules, and tells a missing rule from a project the token cannot see)
//  - GitHub (usable ci == github, context github_pr_number, usable target_repo owner/name):
//        GET {github_api_url}/repos/{owner}/{name}/pulls/{n}
//          -> source_repo (head.repo.full_name), target_repo (base.repo.full_name), fork,
//             author_association
// then derive_facts again (an external author association the API reported forces the fallback
// tier). Every problem is a warning in facts.warnings.
void verify_with_scm(const ScmVerifyPolicy& policy, Facts& facts, const HttpGet& http);

}  // namespace jobcell
