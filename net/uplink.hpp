// A cell's way out: what connects its network namespace to the world, and the egress plan
// (allowlist, the host's own addresses, the ruleset) that decides what may pass. Two kinds:
// HostNetwork (root mode: a veth and NAT on the host, net/host_network.hpp) and SlirpUplink
// (rootless: slirp4netns, a user-mode TCP/IP stack, net/slirp_uplink.hpp). Either way the same
// ruleset is loaded inside the cell, so what a job can reach does not depend on the kind.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "net/allowlist.hpp"
#include "net/cell_net_config.hpp"
#include "net/ruleset.hpp"
#include "sandbox/spec.hpp"

namespace jobcell {

class CellUplink {
public:
    virtual ~CellUplink() = default;
    CellUplink(const CellUplink&) = delete;
    CellUplink& operator=(const CellUplink&) = delete;

    // Connects the cell, whose first process is `cell_pid` with network namespace
    // `cell_netns_fd`, once it exists and before it is released. Throws Error; whatever was
    // created is still removed by the destructor.
    virtual void attach(pid_t cell_pid, int cell_netns_fd) = 0;

    const CellNetConfig& cell_config() const { return config_; }
    const EgressRuleset& ruleset() const { return ruleset_; }
    const std::vector<AllowEntry>& entries() const { return entries_; }
    // The host's own addresses and the cell's gateways: never reachable through a name.
    const std::vector<std::string>& host_addresses() const { return host_addresses_; }

protected:
    CellUplink() = default;
    // Parses the allowlist, collects the host's addresses plus `gateways`, and generates the
    // ruleset into config_.ruleset. Call once config_ holds the cell's addresses.
    void plan_egress(const SandboxSpec& spec, const std::vector<std::string>& gateways);

    CellNetConfig config_;

private:
    std::vector<AllowEntry> entries_;
    std::vector<std::string> host_addresses_;
    EgressRuleset ruleset_;
};

// The uplink for a cell with a network: HostNetwork in root mode, SlirpUplink rootless.
std::unique_ptr<CellUplink> make_cell_uplink(const SandboxSpec& spec);

}  // namespace jobcell
