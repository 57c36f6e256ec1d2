// GitLab custom executor: the few things jobcell itself needs from GitLab Runner's job response
// ($JOB_RESPONSE_FILE) besides the trust facts (meta_gitlab.cpp reads those): the job id that
// keys the job's state, the project id that keys its cache, and the GitLab server that runner
// stages may reach. Pure: the text comes in, a value or an Error naming the field comes out.
//
// Why the response and not CUSTOM_ENV_CI_JOB_ID: every CUSTOM_ENV_ value is a job variable, and
// a job may set CI_JOB_ID itself, pointing its stages at another job's state. The response is
// the runner's own copy of what the server sent.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "launcher/metadata.hpp"
#include "sandbox/env.hpp"

namespace jobcell {

struct GitlabJobResponse {
    std::string job_id;      // decimal digits, no leading zero: safe as a path component
    std::string project_id;  // decimal digits; empty when the response has none
    // An allowlist entry for the host of git_info.repo_url ("gitlab.example.com:443"); empty
    // when it is missing or not an http(s) URL, so runner stages get no GitLab server.
    std::string server_allow;
    std::string server_note;  // why server_allow is empty (never the URL: it holds the job token)
};

// where: "JOB_RESPONSE_FILE /path". Throws Error("WHERE: id: expected a positive integer")
// and the like when the document or its id is unusable; the project and server are optional.
GitlabJobResponse parse_gitlab_job_response(const std::string& text, const std::string& where);

// $JOB_RESPONSE_FILE, read and parsed. Throws Error when it is unset or unreadable.
GitlabJobResponse read_gitlab_job_response(const EnvList& env, const FileReader& read);

// "https://gitlab-ci-token:T@gitlab.example.com:8443/g/p.git" -> "gitlab.example.com:8443";
// http defaults to port 80, https to 443. nullopt for anything else (with `why` set).
std::optional<std::string> gitlab_server_allow_entry(std::string_view repo_url, std::string& why);

}  // namespace jobcell
