// Root mode's uplink (net/uplink.hpp): the host side of one cell's network, owned for the cell's
// life: its pool index (lock), its veth and its NAT table. Everything it created goes on destruction; a SIGKILLed owner's
// leftovers go when the next cell leases the same index, or with `jobcell gc`.
#pragma once

#include <string>
#include <vector>

#include "net/pool_lease.hpp"
#include "net/uplink.hpp"
#include "sandbox/spec.hpp"

namespace jobcell {

class HostNetwork final : public CellUplink {
public:
    // Leases a pool index, removes leftovers of a dead owner of that index, and plans the
    // cell's side (addresses, ruleset). Nothing is created on the host yet.
    explicit HostNetwork(const SandboxSpec& spec);
    ~HostNetwork() override;

    // Creates the veth pair (its peer directly in the cell's namespace), the host end's
    // addresses and the NAT table.
    void attach(pid_t cell_pid, int cell_netns_fd) override;

    unsigned index() const { return lease_.index(); }

private:
    PoolLease lease_;
    bool attached_ = false;
};

// Removes the NAT table and veth of pool index `index` if they exist (its owner is gone).
// Returns how many things were removed.
int remove_cell_network_leftovers(unsigned index);

// jobcell gc: leftovers of every index no live jobcell holds. Returns how many were removed.
int collect_dead_cell_networks();

}  // namespace jobcell
