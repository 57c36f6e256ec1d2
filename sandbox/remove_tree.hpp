// Removing a directory tree a job wrote (a GitLab job's workspace): never following a symlink,
// and with a bounded number of open descriptors however deep the job nested its directories
// (std::filesystem::remove_all holds one per level, so a job could make cleanup fail for good
// with a tree deeper than the service's descriptor limit).
#pragma once

#include <string>

namespace jobcell {

// Removes `path` and everything below it; nothing when it does not exist. Throws Error naming
// what could not be removed.
void remove_tree(const std::string& path);

}  // namespace jobcell
