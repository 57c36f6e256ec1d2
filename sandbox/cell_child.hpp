// The cell's first process, between clone and exec of the init: it waits to be released, then
// builds the cell from the inside (DESIGN.md "The cell", steps 3-5). Any failure is sent back
// as one line of text over error_fd and ends the child with 125; the launcher turns it into
// its own error, so a half-built cell never runs a job.
#pragma once

#include <string>
#include <vector>

#include "net/cell_net_config.hpp"
#include "sandbox/etc_files.hpp"
#include "sandbox/idmap.hpp"
#include "sandbox/seccomp_filter.hpp"
#include "sandbox/spec.hpp"

namespace jobcell {

struct ChildContext {
    const SandboxSpec* spec = nullptr;
    const SeccompFilter* filter = nullptr;
    const std::vector<GeneratedFile>* etc = nullptr;
    const CellNetConfig* net = nullptr;  // has_link == false: loopback only
    int release_fd = -1;    // one byte once the id maps are written, one more once in the cgroup
    int error_fd = -1;      // close-on-exec: EOF without text means the init was executed
    // The supervisor's ends of those two pipes, which the clone copied: closed first, so that
    // the supervisor closing its end is an EOF here, and the cell's exit one there.
    int release_peer_fd = -1;
    int error_peer_fd = -1;
    int init_fd = -1;       // sealed memfd holding jobcell-init
    int workspace_fd = -1;  // detached workspace mount (root mode)
    WorkspaceIdentity workspace_identity;  // rootless: the cell clones spec.workspace itself
    std::vector<int> bind_fds;  // detached mounts of spec->binds, in order (root mode)
    std::vector<char*> init_argv;  // null-terminated
    std::vector<char*> init_envp;  // null-terminated
};

[[noreturn]] void cell_child_main(const ChildContext& ctx);

}  // namespace jobcell
