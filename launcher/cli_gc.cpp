// jobcell gc: remove what cells of a dead jobcell left behind (a SIGKILLed launcher cannot
// clean up after itself; every `jobcell run` also does this for the cgroups on start).
#include <iostream>

#include "launcher/cli.hpp"
#include "sandbox/cgroup.hpp"

namespace jobcell {

CommandAction add_gc_command(CLI::App& app) {
    app.add_subcommand("gc", "Remove leftovers (cgroups) of cells whose jobcell is gone");
    return [](const std::vector<std::string>&) {
        int removed = collect_dead_cgroups(read_cgroup_mounts());
        std::cout << "gc: removed " << removed << " cgroup" << (removed == 1 ? "" : "s") << " of dead cells\n";
        return 0;
    };
}

}  // namespace jobcell
