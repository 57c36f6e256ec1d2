// From a policy tier and the command line to one SandboxSpec. Pure: the host environment and
// working directory are arguments, so every rule here is unit-tested.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "launcher/policy.hpp"
#include "sandbox/env.hpp"
#include "sandbox/spec.hpp"

namespace jobcell {

// What `jobcell run` was asked for; every optional left empty takes the tier's value.
struct RunRequest {
    std::optional<std::string> tier;
    std::optional<std::string> workspace;
    std::vector<std::string> env;  // --env NAME[=VALUE]
    std::optional<std::chrono::milliseconds> timeout;
    std::optional<std::chrono::milliseconds> kill_grace;
    std::optional<std::uint64_t> memory_bytes;
    std::optional<std::uint64_t> pids;
    std::optional<double> cpus;
    std::optional<std::uint64_t> tmpfs_bytes;
    std::optional<std::string> network;  // --net none|allowlist|open
    std::vector<std::string> allow;      // --allow ENTRY, added to the tier's allowlist
    std::vector<std::string> command;
    // Set when jobcell runs unprivileged: the cell becomes rootless (sandbox/spec.hpp).
    struct Invoker {
        std::uint32_t uid = 0, gid = 0;
    };
    std::optional<Invoker> rootless_invoker;
};

// The tier used when none is asked for. Issue 3 replaces this with the metadata decision.
inline constexpr const char* kDefaultTier = "untrusted";

// host_env: jobcell's own environment; cwd: its working directory (absolute, resolved).
// workspace_realpath: resolves the workspace on the host (symlinks, ".."); injected for tests.
SandboxSpec resolve_spec(const Policy& policy, const RunRequest& request, const EnvList& host_env,
                         const std::string& cwd,
                         std::string (*workspace_realpath)(const std::string&));

// The real resolver: realpath(3), throwing Error("workspace X: ENOENT ...").
std::string host_realpath(const std::string& path);

}  // namespace jobcell
