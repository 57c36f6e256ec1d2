// The host side of one cell's network, owned for the cell's life: its pool index (lock), its
// veth and its NAT table. Everything it created goes on destruction; a SIGKILLed owner's
// leftovers go when the next cell leases the same index, or with `jobcell gc`.
#pragma once

#include <string>
#include <vector>

#include "net/cell_net_config.hpp"
#include "net/pool_lease.hpp"
#include "net/ruleset.hpp"
#include "sandbox/spec.hpp"

namespace jobcell {

class HostNetwork {
public:
    // Leases a pool index, removes leftovers of a dead owner of that index, and plans the
    // cell's side (addresses, ruleset). Nothing is created on the host yet.
    explicit HostNetwork(const SandboxSpec& spec);
    ~HostNetwork();
    HostNetwork(const HostNetwork&) = delete;
    HostNetwork& operator=(const HostNetwork&) = delete;

    // Creates the veth pair (its peer directly in the cell's namespace), the host end's
    // addresses and the NAT table. Throws Error; what was created is still removed by the
    // destructor.
    void attach(int cell_netns_fd);

    const CellNetConfig& cell_config() const { return config_; }
    const EgressRuleset& ruleset() const { return ruleset_; }
    const std::vector<AllowEntry>& entries() const { return entries_; }
    const std::vector<std::string>& host_addresses() const { return host_addresses_; }
    unsigned index() const { return lease_.index(); }

private:
    PoolLease lease_;
    std::vector<AllowEntry> entries_;
    std::vector<std::string> host_addresses_;
    EgressRuleset ruleset_;
    CellNetConfig config_;
    bool attached_ = false;
};

// Removes the NAT table and veth of pool index `index` if they exist (its owner is gone).
// Returns how many things were removed.
int remove_cell_network_leftovers(unsigned index);

// jobcell gc: leftovers of every index no live jobcell holds. Returns how many were removed.
int collect_dead_cell_networks();

}  // namespace jobcell
