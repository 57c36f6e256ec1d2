// Which pool index a cell owns: an flock on /run/jobcell/net/<N>.lock, held for the cell's
// life. The kernel drops the lock when jobcell dies however it dies, so an index is free again
// exactly when its owner is gone; the next owner (or `jobcell gc`) removes what a killed owner
// left on the host (its nftables table; its veth dies with the cell's namespace).
#pragma once

#include <optional>
#include <string>

#include "sandbox/fd.hpp"

namespace jobcell {

inline constexpr const char* kPoolLockDir = "/run/jobcell/net";

class PoolLease {
public:
    PoolLease(unsigned index, Fd lock) : index_(index), lock_(std::move(lock)) {}
    unsigned index() const { return index_; }

private:
    unsigned index_;
    Fd lock_;
};

// Takes a free index below `capacity`, starting the search at a random one. Throws Error when
// every index is taken.
PoolLease lease_pool_index(unsigned capacity, const std::string& dir = kPoolLockDir);

// The lease of exactly `index`, or nullopt while a live jobcell holds it (gc holds the lease
// while it removes leftovers, so no new cell can take the index meanwhile).
std::optional<PoolLease> try_lease_pool_index(unsigned index, const std::string& dir = kPoolLockDir);

}  // namespace jobcell
