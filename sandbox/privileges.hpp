// The last steps before the cell's init runs: leave the launcher's session and terminal, become
// the job user, hold no capability in any set, never gain one back (no_new_privs), no core
// dumps, and no inherited file descriptor but 0/1/2 survives exec.
#pragma once

#include "sandbox/spec.hpp"

namespace jobcell {

// rootless: the cell has no root and setgroups is denied in it (sandbox/supervisor.cpp).
void drop_privileges(const JobUser& user, bool rootless);  // throws Error

// Marks every fd from 3 up close-on-exec (close_range, else /proc/self/fd, else a loop).
void close_fds_on_exec();

// Signal dispositions and mask back to defaults (what the launcher ignored or blocked must
// not reach the job).
void reset_signals();

}  // namespace jobcell
