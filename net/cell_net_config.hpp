// What the cell's first process needs to set up its side of the network: computed by the
// supervisor before the clone, a plain value.
#pragma once

#include <string>

#include "net/address_pool.hpp"

namespace jobcell {

inline constexpr const char* kCellLinkName = "eth0";  // the veth's cell end (root mode)
// The DNS forwarder's address on the cell's loopback; the cell's resolv.conf names it.
inline constexpr const char* kCellDnsAddress = "127.0.0.53";

struct CellNetConfig {
    bool has_link = false;        // false: loopback only (network "none")
    std::string link = kCellLinkName;  // the cell's uplink interface: eth0 (veth) or tap0 (slirp4netns)
    CellAddresses addresses;      // cell4/cell6 on the link; host4/host6 are the gateways
    int prefix4 = CellAddresses::prefix4;
    bool ipv6 = false;            // the uplink carries IPv6, so the cell gets an IPv6 route too
    std::string ruleset;          // nft script for the cell's namespace (net/ruleset.hpp)
};

}  // namespace jobcell
