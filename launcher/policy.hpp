// The policy: tiers (limits, network, env rules, seccomp profile), the cell layout, the trust
// rules that pick a tier and SCM verification, read from TOML. Pure: parse_policy takes text, so
// it is unit-tested without files. Every error is an Error whose message begins "FILE:LINE:COL: ".
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "launcher/rules.hpp"
#include "sandbox/spec.hpp"

namespace jobcell {

struct TierPolicy {
    std::string name;
    std::string description;
    CellLimits limits;
    std::string network = "none";
    std::vector<std::string> allow;  // egress allowlist entries (net/allowlist.hpp)
    // Host environment variables the job may receive (exact names, or a prefix ending in '*').
    std::vector<std::string> env_pass;
    // Variables set for the job, in file order.
    std::vector<std::pair<std::string, std::string>> env_set;
    std::string seccomp = "default";
    // GitLab executor: the network of runner-generated stages (sources, caches, artifacts).
    // "gitlab": only the GitLab server (host of the job's repo_url); "tier": the tier's own
    // network, plus the GitLab server when that is an allowlist; "none": loopback only.
    std::string gitlab_runner_stage_network = "gitlab";
};

// How every cell is laid out, whatever the tier.
struct CellPolicy {
    std::vector<std::string> system_dirs;  // e.g. /usr /bin /lib /lib64 /sbin
    std::vector<std::string> host_etc;     // e.g. ssl/certs alternatives ld.so.cache
    JobUser user;
    std::uint32_t id_base = 1'700'000'000;  // as in the shipped policy; never 0
    std::string hostname = "jobcell";
};

// Optional verification of change-request facts against the SCM's API, with the operator's
// token (never one from the job). Off by default.
struct ScmVerifyPolicy {
    bool enabled = false;
    std::string gitlab_url;  // e.g. https://gitlab.example.com; empty: no GitLab verification
    std::string github_api_url = "https://api.github.com";
    std::string token_file;  // absolute path of a file holding the operator's token
    std::chrono::milliseconds timeout{5000};
};

struct Policy {
    std::string source;  // file path, or "<built-in policy>"
    CellPolicy cell;
    std::map<std::string, TierPolicy> tiers;
    // The trust rules in file order (first match wins) and the tier when none matches or the
    // facts force it. The parser guarantees every tier named here exists in `tiers`, except the
    // default fallback of a policy that has no rules and no fallback_tier key.
    std::vector<Rule> rules;
    std::string fallback_tier = "untrusted";
    ScmVerifyPolicy verify;
    NetworkPlumbing network;

    const TierPolicy& tier(std::string_view name) const;  // throws Error naming known tiers
};

Policy parse_policy(std::string_view text, std::string_view source_name);

// --policy FILE if given, else /etc/jobcell/policy.toml if it exists, else the built-in one.
Policy load_policy(const std::optional<std::string>& path);
// The same, with the system-wide file at `system_path` instead of /etc/jobcell/policy.toml
// (tests). A system file that exists but cannot be read is an error, never a fallback.
Policy load_policy(const std::optional<std::string>& path, std::string_view system_path);

// profiles/policy.toml, embedded at build time.
std::string_view builtin_policy_text();

}  // namespace jobcell
