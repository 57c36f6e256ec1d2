// The host side of a cell's network: one nftables table per cell in the host's namespace that
// masquerades the cell's traffic out of whatever interface the host routes it to, and, as a
// second wall behind the ruleset inside the cell, drops the cell's traffic to the host itself,
// to other cells, to link-local and metadata addresses, and from any source but the cell's
// own address. Pure: script text only (golden-tested).
#pragma once

#include <string>

#include "net/address_pool.hpp"

namespace jobcell {

std::string host_veth_name(unsigned index);   // "jcell<N>"
std::string host_table_name(unsigned index);  // "jobcell_cell<N>" (family inet)
inline constexpr const char* kHostVethPrefix = "jcell";
inline constexpr const char* kHostTablePrefix = "jobcell_cell";

std::string host_nat_script(unsigned index, const CellAddresses& addresses, bool ipv6);

}  // namespace jobcell
