#include "net/link.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/if_addr.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>

#include <algorithm>

#include "sandbox/error.hpp"

namespace jobcell {
namespace {

template <typename T, void (*Release)(T*)>
struct NlFree {
    void operator()(T* p) const { Release(p); }
};
using LinkPtr = std::unique_ptr<rtnl_link, NlFree<rtnl_link, rtnl_link_put>>;
using AddrPtr = std::unique_ptr<rtnl_addr, NlFree<rtnl_addr, rtnl_addr_put>>;
using RoutePtr = std::unique_ptr<rtnl_route, NlFree<rtnl_route, rtnl_route_put>>;
using NlAddrPtr = std::unique_ptr<nl_addr, NlFree<nl_addr, nl_addr_put>>;
using CachePtr = std::unique_ptr<nl_cache, NlFree<nl_cache, nl_cache_free>>;

[[noreturn]] void fail(const std::string& what, int nl_error) {
    throw Error(what + ": " + nl_geterror(nl_error));
}

NlAddrPtr parse_address(const std::string& text) {
    nl_addr* address = nullptr;
    const int family = text.find(':') != std::string::npos ? AF_INET6 : AF_INET;
    if (int rc = nl_addr_parse(text.c_str(), family, &address); rc < 0) fail("address " + text, rc);
    return NlAddrPtr(address);
}

}  // namespace

void NetlinkRoute::Free::operator()(nl_sock* sock) const { nl_socket_free(sock); }

NetlinkRoute::NetlinkRoute() : sock_(nl_socket_alloc()) {
    if (!sock_) throw Error("netlink: cannot allocate a socket");
    if (int rc = nl_connect(sock_.get(), NETLINK_ROUTE); rc < 0) fail("netlink: connect", rc);
}

int NetlinkRoute::index_of(const std::string& name) {
    rtnl_link* found = nullptr;
    if (int rc = rtnl_link_get_kernel(sock_.get(), 0, name.c_str(), &found); rc < 0) fail("link " + name, rc);
    LinkPtr link(found);
    return rtnl_link_get_ifindex(link.get());
}

void NetlinkRoute::add_veth(const std::string& host_name, const std::string& peer_name, int peer_netns_fd) {
    LinkPtr link(rtnl_link_veth_alloc());
    if (!link) throw Error("veth " + host_name + ": out of memory");
    rtnl_link_set_name(link.get(), host_name.c_str());
    rtnl_link* peer = rtnl_link_veth_get_peer(link.get());
    rtnl_link_set_name(peer, peer_name.c_str());
    rtnl_link_set_ns_fd(peer, peer_netns_fd);
    rtnl_link_put(peer);
    if (int rc = rtnl_link_add(sock_.get(), link.get(), NLM_F_CREATE | NLM_F_EXCL); rc < 0)
        fail("create veth " + host_name, rc);
}

bool NetlinkRoute::delete_link(const std::string& name) {
    LinkPtr link(rtnl_link_alloc());
    rtnl_link_set_name(link.get(), name.c_str());
    int rc = rtnl_link_delete(sock_.get(), link.get());
    if (rc == -NLE_NODEV || rc == -NLE_OBJ_NOTFOUND) return false;
    if (rc < 0) fail("delete link " + name, rc);
    return true;
}

std::vector<std::string> NetlinkRoute::link_names_with_prefix(const std::string& prefix) {
    nl_cache* raw = nullptr;
    if (int rc = rtnl_link_alloc_cache(sock_.get(), AF_UNSPEC, &raw); rc < 0) fail("list links", rc);
    CachePtr cache(raw);
    std::vector<std::string> names;
    for (nl_object* object = nl_cache_get_first(cache.get()); object != nullptr; object = nl_cache_get_next(object)) {
        const char* name = rtnl_link_get_name(reinterpret_cast<rtnl_link*>(object));
        if (name != nullptr && std::string_view(name).substr(0, prefix.size()) == prefix) names.emplace_back(name);
    }
    return names;
}

void NetlinkRoute::set_up(const std::string& name) {
    rtnl_link* found = nullptr;
    if (int rc = rtnl_link_get_kernel(sock_.get(), 0, name.c_str(), &found); rc < 0) fail("link " + name, rc);
    LinkPtr link(found);
    LinkPtr change(rtnl_link_alloc());
    rtnl_link_set_flags(change.get(), IFF_UP);
    if (int rc = rtnl_link_change(sock_.get(), link.get(), change.get(), 0); rc < 0) fail("bring up " + name, rc);
}

void NetlinkRoute::add_address(const std::string& name, const std::string& address, int prefix) {
    AddrPtr addr(rtnl_addr_alloc());
    NlAddrPtr local = parse_address(address);
    nl_addr_set_prefixlen(local.get(), prefix);
    rtnl_addr_set_ifindex(addr.get(), index_of(name));
    rtnl_addr_set_local(addr.get(), local.get());
    if (nl_addr_get_family(local.get()) == AF_INET6) rtnl_addr_set_flags(addr.get(), IFA_F_NODAD);
    if (int rc = rtnl_addr_add(sock_.get(), addr.get(), 0); rc < 0)
        fail("address " + address + "/" + std::to_string(prefix) + " on " + name, rc);
}

void NetlinkRoute::add_default_route(const std::string& name, const std::string& gateway) {
    NlAddrPtr via = parse_address(gateway);
    const int family = nl_addr_get_family(via.get());
    NlAddrPtr any = parse_address(family == AF_INET6 ? "::/0" : "0.0.0.0/0");
    RoutePtr route(rtnl_route_alloc());
    rtnl_route_set_family(route.get(), static_cast<std::uint8_t>(family));
    rtnl_route_set_dst(route.get(), any.get());
    rtnl_nexthop* hop = rtnl_route_nh_alloc();
    rtnl_route_nh_set_gateway(hop, via.get());
    rtnl_route_nh_set_ifindex(hop, index_of(name));
    rtnl_route_add_nexthop(route.get(), hop);  // the route owns it from here
    if (int rc = rtnl_route_add(sock_.get(), route.get(), NLM_F_CREATE); rc < 0)
        fail("default route via " + gateway, rc);
}

std::vector<std::string> local_addresses() {
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) throw_errno("list the host's addresses");
    std::unique_ptr<ifaddrs, void (*)(ifaddrs*)> owner(list, ::freeifaddrs);
    std::vector<std::string> out;
    for (const ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
        if (a->ifa_addr == nullptr) continue;
        char buf[INET6_ADDRSTRLEN] = {};
        if (a->ifa_addr->sa_family == AF_INET) {
            ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(a->ifa_addr)->sin_addr, buf, sizeof buf);
        } else if (a->ifa_addr->sa_family == AF_INET6) {
            ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(a->ifa_addr)->sin6_addr, buf, sizeof buf);
        } else {
            continue;
        }
        std::string text = buf;
        if (std::find(out.begin(), out.end(), text) == out.end()) out.push_back(text);
    }
    return out;
}

}  // namespace jobcell
