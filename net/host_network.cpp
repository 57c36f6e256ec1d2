#include "net/host_network.hpp"

#include <fstream>
#include <set>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "net/host_nat.hpp"
#include "net/link.hpp"
#include "net/nft.hpp"
#include "sandbox/error.hpp"
#include "sandbox/fd.hpp"

namespace jobcell {
namespace {

std::string read_sysctl(const std::string& name) {
    std::ifstream in("/proc/sys/net/" + name);
    std::string value;
    in >> value;
    return value;
}

// NAT needs the host to forward IPv4. Turned on when off (as Docker and Podman do) and said
// once, since it is a host-wide setting; IPv6 forwarding is never turned on by jobcell (it would
// stop the host from accepting router advertisements), so cells get IPv6 only where the
// operator already forwards it.
void ensure_ipv4_forwarding() {
    if (read_sysctl("ipv4/ip_forward") == "1") return;
    write_file("/proc/sys/net/ipv4/ip_forward", "1");
    spdlog::info("turned on net.ipv4.ip_forward: cells with a network reach out through NAT");
}

// The pool index of a jobcell-named table or link, or -1.
long index_in_name(const std::string& name, const std::string& prefix) {
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return -1;
    const std::string digits = name.substr(prefix.size());
    if (digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
    return std::stol(digits);
}

// Names of the host's inet tables that carry jobcell's per-cell prefix.
std::vector<std::string> host_table_names(NftContext& nft) {
    std::vector<std::string> names;
    const auto listing = nlohmann::json::parse(nft.run_json("list tables", "list tables inet"), nullptr, false);
    if (!listing.is_object() || !listing.contains("nftables")) return names;
    for (const auto& item : listing["nftables"]) {
        if (!item.contains("table")) continue;
        const std::string name = item["table"].value("name", "");
        if (index_in_name(name, kHostTablePrefix) >= 0) names.push_back(name);
    }
    return names;
}

}  // namespace

HostNetwork::HostNetwork(const SandboxSpec& spec)
    : lease_(lease_pool_index(parse_address_pool(spec.plumbing.pool4, spec.plumbing.pool6).capacity)) {
    const AddressPool pool = parse_address_pool(spec.plumbing.pool4, spec.plumbing.pool6);
    remove_cell_network_leftovers(lease_.index());
    config_.has_link = true;
    config_.link = kCellLinkName;
    config_.addresses = cell_addresses(pool, lease_.index());
    config_.ipv6 = read_sysctl("ipv6/conf/all/forwarding") == "1";
    plan_egress(spec, {config_.addresses.host4, config_.addresses.host6});
}

void HostNetwork::attach(pid_t, int cell_netns_fd) {
    const unsigned index = lease_.index();
    const std::string veth = host_veth_name(index);
    attached_ = true;  // from here on the destructor removes whatever exists
    ensure_ipv4_forwarding();
    NetlinkRoute route;
    route.add_veth(veth, kCellLinkName, cell_netns_fd);
    route.add_address(veth, config_.addresses.host4, CellAddresses::prefix4);
    if (config_.ipv6) route.add_address(veth, config_.addresses.host6, CellAddresses::prefix6);
    route.set_up(veth);
    NftContext nft;
    nft.run("host NAT for " + veth, host_nat_script(index, config_.addresses, config_.ipv6));
}

HostNetwork::~HostNetwork() {
    if (!attached_) return;
    try {
        remove_cell_network_leftovers(lease_.index());
    } catch (const std::exception& e) {
        spdlog::warn("cell network {}: {} (jobcell gc removes it later)", lease_.index(), e.what());
    }
}

int remove_cell_network_leftovers(unsigned index) {
    int removed = 0;
    NftContext nft;
    const std::string table = host_table_name(index);
    for (const auto& name : host_table_names(nft)) {
        if (name == table && nft.try_run("delete table inet " + table)) ++removed;
    }
    NetlinkRoute route;
    if (route.delete_link(host_veth_name(index))) ++removed;
    return removed;
}

int collect_dead_cell_networks() {
    std::set<unsigned> indices;
    NftContext nft;
    for (const auto& name : host_table_names(nft)) {
        if (long index = index_in_name(name, kHostTablePrefix); index >= 0) indices.insert(static_cast<unsigned>(index));
    }
    NetlinkRoute route;
    for (const auto& name : route.link_names_with_prefix(kHostVethPrefix)) {
        if (long index = index_in_name(name, kHostVethPrefix); index >= 0) indices.insert(static_cast<unsigned>(index));
    }
    int removed = 0;
    for (unsigned index : indices) {
        if (auto lease = try_lease_pool_index(index)) removed += remove_cell_network_leftovers(index);
    }
    return removed;
}

}  // namespace jobcell
