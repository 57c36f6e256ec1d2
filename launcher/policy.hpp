// The policy: tiers (limits, network, env rules, seccomp profile) and the cell layout, read
// from TOML. Pure: parse_policy takes text, so it is unit-tested without files. Every error
// is an Error whose message begins "FILE:LINE:COL: ".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sandbox/spec.hpp"

namespace jobcell {

struct TierPolicy {
    std::string name;
    std::string description;
    CellLimits limits;
    std::string network = "none";
    // Host environment variables the job may receive (exact names, or a prefix ending in '*').
    std::vector<std::string> env_pass;
    // Variables set for the job, in file order.
    std::vector<std::pair<std::string, std::string>> env_set;
    std::string seccomp = "default";
};

// How every cell is laid out, whatever the tier.
struct CellPolicy {
    std::vector<std::string> system_dirs;  // e.g. /usr /bin /lib /lib64 /sbin
    std::vector<std::string> host_etc;     // e.g. ssl/certs alternatives ld.so.cache
    JobUser user;
    std::uint32_t id_base = 1'700'000'000;  // as in the shipped policy; never 0
    std::string hostname = "jobcell";
};

struct Policy {
    std::string source;  // file path, or "<built-in policy>"
    CellPolicy cell;
    std::map<std::string, TierPolicy> tiers;

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
