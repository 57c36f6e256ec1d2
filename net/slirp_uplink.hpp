// Rootless mode's uplink (net/uplink.hpp): slirp4netns, a user-mode TCP/IP stack that runs as
// the invoking user, joins the cell's user and network namespaces by pid, creates tap0 there and
// carries the cell's packets out through ordinary sockets of the user. jobcell starts it with
// its seccomp filter, without its DNS proxy and without a way to the host's loopback, and
// configures tap0 itself (from the cell, like the veth), so the same egress ruleset decides
// what passes.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "net/uplink.hpp"
#include "sandbox/fd.hpp"
#include "sandbox/spec.hpp"

namespace jobcell {

// slirp4netns's fixed inside world (its default 10.0.2.0/24).
inline constexpr const char* kSlirpLink = "tap0";
inline constexpr const char* kSlirpCell4 = "10.0.2.100";
inline constexpr const char* kSlirpGateway4 = "10.0.2.2";
inline constexpr const char* kSlirpDns4 = "10.0.2.3";
inline constexpr int kSlirpPrefix4 = 24;

// Pure: the command line that starts slirp4netns for the cell whose first process is
// `cell_pid`, reporting readiness on `ready_fd` and ending when `exit_fd` reaches EOF.
std::vector<std::string> slirp4netns_argv(const std::string& binary, pid_t cell_pid, int ready_fd, int exit_fd);

// Pure: the first executable `name` in the absolute directories of `path_var` ("" when none),
// asking `is_executable` about each candidate.
std::string find_program(std::string_view name, std::string_view path_var,
                         bool (*is_executable)(const std::string&));

class SlirpUplink final : public CellUplink {
public:
    // Finds slirp4netns and checks /dev/net/tun, or throws Error saying what to install or
    // use instead; plans the cell's side. Nothing is started yet.
    explicit SlirpUplink(const SandboxSpec& spec);
    ~SlirpUplink() override;  // ends slirp4netns (EOF on its exit fd, then SIGKILL)

    // Starts slirp4netns for the cell and waits (bounded) until tap0 exists in it.
    void attach(pid_t cell_pid, int cell_netns_fd) override;

private:
    std::string binary_;
    pid_t pid_ = -1;
    Fd pidfd_;
    Fd exit_write_;  // closing it tells slirp4netns to end
};

}  // namespace jobcell
