// The DNS forwarder's process. It is forked by the supervisor once the cell exists, opens its
// upstream sockets in the host's network namespace, its listening sockets (127.0.0.53:53) and an
// nftables context in the cell's (joining its user namespace first), and then gives up the host:
// it becomes the cell's root (a host uid of the cell's range; rootless it stays the invoking
// user, the cell's job user), keeps only CAP_NET_ADMIN over
// the cell's namespace (to add answers to the allow sets) and no_new_privs. Parsing what the
// job sends thus never happens with host privileges. When the cell is done it reads the
// ruleset's deny counters and denied destinations, which the supervisor puts in the audit record.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "net/dns_forwarder.hpp"
#include "net/dns_gate.hpp"
#include "net/ruleset.hpp"
#include "sandbox/fd.hpp"

namespace jobcell {

struct NetworkAccounting {
    DnsStats dns;
    std::map<std::string, std::uint64_t> denied;  // deny counter name -> packets
    std::vector<std::string> denied_destinations;  // "169.254.169.254 tcp 80"
};

struct DnsProcessSetup {
    DnsGateConfig gate;
    std::vector<NameSetGroup> groups;
    std::vector<sockaddr_storage> resolvers;
    int cell_netns_fd = -1;
    int cell_userns_fd = -1;
    bool rootless = false;  // stay the invoking user (the job user in the cell): no cell root exists
};

class DnsForwarderProcess {
public:
    // Returns once the forwarder listens; throws Error with the forwarder's reason otherwise.
    explicit DnsForwarderProcess(const DnsProcessSetup& setup);
    ~DnsForwarderProcess();  // kills and reaps it unless stop() did
    DnsForwarderProcess(const DnsForwarderProcess&) = delete;
    DnsForwarderProcess& operator=(const DnsForwarderProcess&) = delete;

    // Ends the forwarder and returns what it counted (empty on failure: never throws).
    NetworkAccounting stop();

private:
    pid_t pid_ = -1;
    Fd stop_;    // closing it tells the forwarder to finish
    Fd report_;  // "ready\n", then the JSON accounting at the end
};

// The accounting as JSON and back (the pipe between the two processes; the audit record).
std::string accounting_to_json(const NetworkAccounting& accounting);
NetworkAccounting accounting_from_json(const std::string& text);

// Reads the deny counters and denied-destination sets out of `nft -j list table inet jobcell`.
void read_ruleset_accounting(const std::string& nft_json, NetworkAccounting& out);

// resolv.conf's nameservers, or the given resolver addresses.
std::vector<sockaddr_storage> upstream_resolvers(const std::vector<std::string>& configured);

}  // namespace jobcell
