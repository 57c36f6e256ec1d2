#include "net/cell_inside.hpp"

#include <fcntl.h>

#include "net/link.hpp"
#include "sandbox/error.hpp"

namespace jobcell {
namespace {

void write_sysctl_at(int dir, const std::string& name, const std::string& value) {
    Fd fd(::openat(dir, name.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd.valid() || !write_all(fd.get(), value.data(), value.size()))
        throw_errno("cell network: write net/ipv6/conf/" + name + " = " + value);
}

}  // namespace

CellNetworkInside::CellNetworkInside(const CellNetConfig& config) : config_(config) {
    if (!config_.has_link) return;
    ipv6_conf_.reset(::open("/proc/sys/net/ipv6/conf", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!ipv6_conf_.valid()) throw_errno("cell network: open /proc/sys/net/ipv6/conf");
    write_sysctl_at(ipv6_conf_.get(), "default/accept_ra", "0");
    write_sysctl_at(ipv6_conf_.get(), "default/accept_dad", "0");
    if (!config_.ipv6) write_sysctl_at(ipv6_conf_.get(), "default/disable_ipv6", "1");
    nft_ = std::make_unique<NftContext>();
}

void CellNetworkInside::configure() {
    if (!config_.has_link) return;
    nft_->run("cell egress ruleset", config_.ruleset);
    // The link may have been created before the defaults above were written (the uplink is
    // attached while this process builds the root), so its own settings are made explicit
    // before it comes up.
    const std::string& link = config_.link;
    write_sysctl_at(ipv6_conf_.get(), link + "/accept_ra", "0");
    write_sysctl_at(ipv6_conf_.get(), link + "/accept_dad", "0");
    if (!config_.ipv6) write_sysctl_at(ipv6_conf_.get(), link + "/disable_ipv6", "1");
    NetlinkRoute route;
    const CellAddresses& a = config_.addresses;
    route.add_address(link, a.cell4, config_.prefix4);
    if (config_.ipv6) route.add_address(link, a.cell6, CellAddresses::prefix6);
    route.set_up(link);
    route.add_default_route(link, a.host4);
    if (config_.ipv6) route.add_default_route(link, a.host6);
}

}  // namespace jobcell
