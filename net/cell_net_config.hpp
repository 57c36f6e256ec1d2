// What the cell's first process needs to set up its side of the network: computed by the
// supervisor before the clone, a plain value.
#pragma once

#include <string>

#include "net/address_pool.hpp"

namespace jobcell {

inline constexpr const char* kCellLinkName = "eth0";
// The DNS forwarder's address on the cell's loopback; the cell's resolv.conf names it.
inline constexpr const char* kCellDnsAddress = "127.0.0.53";

struct CellNetConfig {
    bool veth = false;          // false: loopback only (network "none")
    CellAddresses addresses;
    bool ipv6 = false;          // the host forwards IPv6, so the cell gets an IPv6 route too
    std::string ruleset;        // nft script for the cell's namespace (net/ruleset.hpp)
};

}  // namespace jobcell
