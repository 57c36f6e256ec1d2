// The supervisor: creates the cell (cgroup, clone into new namespaces, id maps), releases it,
// then waits for it while enforcing the wall-clock timeout and forwarding the signals the
// launcher receives; afterwards it reads the accounting and removes everything. Nothing the
// job started survives run_cell.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "net/dns_process.hpp"
#include "sandbox/cgroup.hpp"
#include "sandbox/spec.hpp"

namespace jobcell {

struct RunResult {
    int exit_code = 0;          // DESIGN.md's contract: job code, 128+N, 124
    int init_signal = 0;        // the cell's init itself died of this signal (0: it exited)
    bool timed_out = false;
    bool oom_killed = false;    // the memory limit killed something in the cell
    int forwarded_signal = 0;   // last signal passed on from the launcher
    CgroupUsage usage;
    std::string cgroup_version;  // "v1", "v2", or "none" (rootless)
    bool workspace_idmapped = false;
    std::string workspace_note;
    // Cells with a network: what the ruleset denied and the DNS forwarder did.
    std::optional<NetworkAccounting> network;
    std::string cell_address;  // the cell's IPv4 address on its veth
    std::chrono::milliseconds wall{0};
    // Where the wall time went, in microseconds: building the cell (up to the init's exec),
    // the job, and removing the cell afterwards.
    std::int64_t setup_us = 0, job_us = 0, teardown_us = 0;
};

// Throws Error (exit 125) when the cell cannot be built; the job has not run then.
RunResult run_cell(const SandboxSpec& spec);

}  // namespace jobcell
