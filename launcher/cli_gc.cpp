// jobcell gc: remove what cells of a dead jobcell left behind (a SIGKILLed launcher cannot
// clean up after itself). Every `jobcell run` also does this for the cgroups on start, and
// for the network leftovers of the pool index it leases.
#include <unistd.h>

#include <iostream>

#include "launcher/cli.hpp"
#include "net/host_network.hpp"
#include "sandbox/cgroup.hpp"
#include "sandbox/error.hpp"

namespace jobcell {

CommandAction add_gc_command(CLI::App& app) {
    app.add_subcommand("gc", "Remove leftovers (cgroups, veths, nftables tables) of cells whose jobcell is gone");
    return [](const std::vector<std::string>&) {
        // Root mode's leftovers are root's; rootless cells leave none (no cgroup, no host side).
        if (::geteuid() != 0) throw Error("gc: must run as root (rootless cells leave nothing for it to remove)");
        const int cgroups = collect_dead_cgroups(read_cgroup_mounts());
        const int network = collect_dead_cell_networks();
        std::cout << "gc: removed " << cgroups << " cgroup" << (cgroups == 1 ? "" : "s") << " and " << network
                  << " network leftover" << (network == 1 ? "" : "s") << " (veths, nftables tables) of dead cells\n";
        return 0;
    };
}

}  // namespace jobcell
