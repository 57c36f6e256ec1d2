// Network links through libnl's route family: the veth pair of a cell, addresses, routes.
// A NetlinkRoute talks to the network namespace its creator was in when it was constructed.
#pragma once

#include <memory>
#include <string>
#include <vector>

struct nl_sock;

namespace jobcell {

class NetlinkRoute {
public:
    NetlinkRoute();  // throws Error
    // A veth pair: `host_name` here, `peer_name` created directly in the namespace of
    // `peer_netns_fd` (so the peer is never visible on the host).
    void add_veth(const std::string& host_name, const std::string& peer_name, int peer_netns_fd);
    // Returns false when there was no such link.
    bool delete_link(const std::string& name);
    std::vector<std::string> link_names_with_prefix(const std::string& prefix);
    void set_up(const std::string& name);
    // nodad: the address is usable at once (IPv6 duplicate detection would delay it ~1 s;
    // the link is a private point-to-point pair, so there is nothing to collide with).
    void add_address(const std::string& name, const std::string& address, int prefix);
    void add_default_route(const std::string& name, const std::string& gateway);

private:
    int index_of(const std::string& name);
    struct Free {
        void operator()(nl_sock* sock) const;
    };
    std::unique_ptr<nl_sock, Free> sock_;
};

// Every address of every interface in the current network namespace, as plain text
// (IPv6 link-local ones without their zone).
std::vector<std::string> local_addresses();

}  // namespace jobcell
