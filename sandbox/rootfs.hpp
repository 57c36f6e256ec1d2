// Builds the cell's filesystem inside the child's private mount namespace, with the new mount
// API: every target is reached through a directory fd opened without following symlinks, so
// nothing a job left in its workspace can point a mount outside the cell. Ends pivoted into
// the new root, which is read-only, with the workspace as the current directory.
#pragma once

#include <vector>

#include "sandbox/etc_files.hpp"
#include "sandbox/spec.hpp"

namespace jobcell {

// workspace_tree: a detached mount of the workspace (see idmap.hpp); bind_trees: one detached
// mount per spec.binds entry, in order. Throws Error.
void build_rootfs(const SandboxSpec& spec, int workspace_tree, const std::vector<GeneratedFile>& etc,
                  const std::vector<int>& bind_trees = {});

}  // namespace jobcell
