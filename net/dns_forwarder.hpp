// The allowlisting DNS forwarder's event loop: answers the cell's queries on sockets bound in
// the cell's network namespace (127.0.0.53:53, UDP and TCP), asks the host's resolvers over
// UDP sockets created in the host's namespace, and lets DnsGate decide everything. Runs in its
// own process (net/dns_process.hpp), never in the supervisor.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <functional>
#include <string>
#include <vector>

#include "net/dns_gate.hpp"

namespace jobcell {

struct DnsStats {
    unsigned forwarded = 0;   // questions sent upstream
    unsigned refused = 0;     // questions answered here without forwarding
    unsigned failed = 0;      // upstream gave nothing usable in time (SERVFAIL to the cell)
    unsigned withheld = 0;    // addresses left out of answers (always-denied ranges)
    std::vector<std::string> refused_names;  // the first 32, "name (TYPE)"
};

struct DnsForwarderSockets {
    int udp_listen = -1;                 // bound, in the cell's netns
    int tcp_listen = -1;                 // bound and listening, in the cell's netns (-1: none)
    std::vector<int> upstream_udp;       // connected to each host resolver, in the host's netns
    int stop = -1;                       // readable (or EOF) when the forwarder must end
};

// Applies set additions (nft, in the cell's netns) before the reply goes out; throws Error
// on failure, which turns the answer into SERVFAIL.
using DnsAddAddresses = std::function<void(const std::vector<DnsSetAddition>&)>;
using DnsLog = std::function<void(const std::string&)>;

// Runs until `stop` is readable. Never throws for anything the cell or upstream sends.
DnsStats run_dns_forwarder(const DnsGate& gate, const DnsForwarderSockets& sockets,
                           const DnsAddAddresses& add_addresses, const DnsLog& log);

// The host's resolvers from resolv.conf text ("nameserver" lines, port 53), in order.
std::vector<sockaddr_storage> resolvers_from_resolv_conf(const std::string& text);

}  // namespace jobcell
