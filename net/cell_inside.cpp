#include "net/cell_inside.hpp"

#include "net/link.hpp"
#include "sandbox/error.hpp"
#include "sandbox/fd.hpp"

namespace jobcell {
namespace {

void write_sysctl(const std::string& name, const std::string& value) {
    const std::string path = "/proc/sys/net/" + name;
    try {
        write_file(path, value);
    } catch (const Error& e) {
        throw Error("cell network: " + std::string(e.what()));
    }
}

}  // namespace

CellNetworkInside::CellNetworkInside(const CellNetConfig& config) : config_(config) {
    if (!config_.veth) return;
    write_sysctl("ipv6/conf/default/accept_ra", "0");
    write_sysctl("ipv6/conf/default/accept_dad", "0");
    if (!config_.ipv6) write_sysctl("ipv6/conf/default/disable_ipv6", "1");
    nft_ = std::make_unique<NftContext>();
}

void CellNetworkInside::configure() {
    if (!config_.veth) return;
    nft_->run("cell egress ruleset", config_.ruleset);
    NetlinkRoute route;
    const CellAddresses& a = config_.addresses;
    route.add_address(kCellLinkName, a.cell4, CellAddresses::prefix4);
    if (config_.ipv6) route.add_address(kCellLinkName, a.cell6, CellAddresses::prefix6);
    route.set_up(kCellLinkName);
    route.add_default_route(kCellLinkName, a.host4);
    if (config_.ipv6) route.add_default_route(kCellLinkName, a.host6);
}

}  // namespace jobcell
