// The cell's side of its network, done by the cell's first process while it still holds its
// capabilities in the cell and before anything of the job runs (DESIGN.md "The cell", step 4).
#pragma once

#include <memory>

#include "net/cell_net_config.hpp"
#include "net/nft.hpp"
#include "sandbox/fd.hpp"

namespace jobcell {

class CellNetworkInside {
public:
    // While the host's /proc is still visible (before pivot_root): per-namespace sysctl
    // defaults for links yet to come (no router advertisements; no IPv6 without an IPv6
    // uplink), a handle on the IPv6 sysctl directory for the link itself, and the nftables
    // context (its socket lives in the cell's namespace).
    explicit CellNetworkInside(const CellNetConfig& config);
    // Once the uplink's link exists in the cell: the egress ruleset first, then the link's own
    // sysctls, its addresses, up, default routes.
    void configure();

private:
    const CellNetConfig& config_;
    std::unique_ptr<NftContext> nft_;
    Fd ipv6_conf_;  // /proc/sys/net/ipv6/conf of the cell's namespace
};

}  // namespace jobcell
