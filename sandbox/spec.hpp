// SandboxSpec: one plain value describing everything a cell will be. Every front end (the
// `run` CLI, the policy engine, the GitLab executor) fills it; the supervisor consumes it;
// `--dry-run` prints it. No syscalls here.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace jobcell {

struct CellLimits {
    std::uint64_t memory_bytes = 0;     // 0: no limit
    std::uint64_t pids = 0;             // 0: no limit
    double cpus = 0;                    // 0: no limit; 1.5 = one and a half cores
    std::uint64_t tmpfs_bytes = 0;      // size of /tmp and of $HOME, each
    std::uint64_t tmpfs_inodes = 0;     // inode cap of /tmp and of $HOME, each
    std::chrono::milliseconds timeout{0};  // 0: none
    std::chrono::milliseconds kill_grace{10000};
};

// The unprivileged user the job runs as, inside the cell.
struct JobUser {
    std::string name = "job";
    std::uint32_t uid = 1000;
    std::uint32_t gid = 1000;
    std::string home = "/home/job";
};

// How cells with a network get their addresses and their names (the policy's [network]).
struct NetworkPlumbing {
    // Each cell takes a /30 from pool4 and a /126 from pool6 (host side first, cell second),
    // unique among the cells running at the same time on this host.
    std::string pool4 = "10.211.0.0/16";
    std::string pool6 = "fd6a:6f62:636c::/64";
    // The resolvers the DNS forwarder asks; empty: the nameservers of the host's resolv.conf.
    std::vector<std::string> resolvers;
};

// A further host directory in the cell (the GitLab executor's stage script and its tier's
// cache). Like the workspace it is idmapped, so what its host owner holds is the job user's.
struct CellBind {
    std::string host;  // absolute, symlink-free host directory
    std::string cell;  // absolute path inside the cell
    bool writable = false;
};

struct SandboxSpec {
    std::string tier;
    std::vector<std::string> command;
    std::string workspace;  // absolute, symlink-free host path; bound rw (see workspace_at)
    // Where the cell sees the workspace (and starts); empty: at its host path. The GitLab
    // executor keeps each job's workspace in its state directory and shows it at builds_dir.
    std::string workspace_at;
    // Mounted after the workspace, in order, so they may live under it.
    std::vector<CellBind> binds;
    // The job's entire environment, in order. Nothing else reaches the job.
    std::vector<std::pair<std::string, std::string>> env;
    CellLimits limits;
    // "none": loopback only; "allowlist": an uplink (veth + NAT, or slirp4netns rootless), only
    // `allow` (and the always-deny list first); "open": the same uplink with only the
    // always-deny list (net/ruleset.hpp).
    std::string network = "none";
    std::vector<std::string> allow;  // allowlist entries as written (net/allowlist.hpp)
    NetworkPlumbing plumbing;
    // Host directories bound read-only at the same path (or recreated as the same symlink).
    std::vector<std::string> system_dirs;
    // Entries under the host's /etc made visible read-only (files, dirs or symlinks).
    std::vector<std::string> host_etc;
    std::string hostname = "jobcell";
    JobUser user;
    // Root mode: the cell's uid/gid 0..65535 map to host ids id_base..id_base+65535.
    std::uint32_t id_base = 0;
    // Rootless mode (jobcell runs unprivileged): the only ids the cell has are the job user's,
    // mapped to the invoking user's host ids, as bubblewrap does without setuid. There is no
    // root in the cell, cgroup limits need a delegated cgroup, and a network comes through a
    // user-mode uplink (slirp4netns) instead of a veth.
    bool rootless = false;
    std::uint32_t host_uid = 0;  // rootless: the job user's host uid and gid
    std::uint32_t host_gid = 0;
    std::string seccomp_profile = "default";
};

}  // namespace jobcell
