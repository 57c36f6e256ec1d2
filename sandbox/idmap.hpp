// The workspace as an idmapped mount: files its owner holds on the host appear inside the cell
// as the job user's, and whatever the job writes lands on disk as the owner's. So the runner
// (root or its own user) can always read, collect and wipe what a job left behind, and the job
// never writes as any host user.
#pragma once

#include <cstdint>
#include <string>

#include "sandbox/fd.hpp"

namespace jobcell {

struct WorkspaceTree {
    Fd tree;               // detached mount, ready for move_mount in the child
    bool idmapped = false;
    std::string note;      // why it is not idmapped, when it is not
};

// dir: absolute host path. cell_uid/cell_gid: the host ids the job user runs as.
WorkspaceTree open_workspace_tree(const std::string& dir, std::uint32_t cell_uid, std::uint32_t cell_gid);

}  // namespace jobcell
