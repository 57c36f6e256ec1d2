// The cell's side of its network, done by the cell's first process while it is still root of
// the cell and before anything of the job runs (DESIGN.md "The cell", step 4).
#pragma once

#include <memory>

#include "net/cell_net_config.hpp"
#include "net/nft.hpp"

namespace jobcell {

class CellNetworkInside {
public:
    // While the host's /proc is still visible (before pivot_root): per-namespace sysctls for
    // links yet to come (no router advertisements; no IPv6 at all without an IPv6 route) and the
    // nftables context (its socket lives in the cell's namespace).
    explicit CellNetworkInside(const CellNetConfig& config);
    // Once the veth's peer exists: the egress ruleset first, then the link, its addresses and
    // default routes.
    void configure();

private:
    const CellNetConfig& config_;
    std::unique_ptr<NftContext> nft_;
};

}  // namespace jobcell
