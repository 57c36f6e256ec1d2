// The workspace as an idmapped mount: files its owner holds on the host appear inside the cell
// as the job user's, and whatever the job writes lands on disk as the owner's. So the runner
// (root or its own user) can always read, collect and wipe what a job left behind, and the job
// never writes as any host user.
#pragma once

#include <sys/types.h>

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

// Rootless mode, where only the cell may clone a mount of its own namespace and there is no
// idmap (the job user already is the invoking user). The supervisor identifies the directory;
// the cell, before it mounts anything, opens the same path again and clones it only if it is
// still the same directory (a swap in between is refused, not followed).
struct WorkspaceIdentity {
    dev_t dev = 0;
    ino_t ino = 0;
    bool known = false;
};
WorkspaceIdentity identify_workspace(const std::string& dir);
Fd clone_workspace_in_cell(const std::string& dir, const WorkspaceIdentity& expected);

}  // namespace jobcell
