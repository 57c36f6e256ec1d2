// The generated part of a cell's /etc: who the job is, what the cell is called, how names
// resolve. Pure text; rootfs.cpp writes it. Never copied from the host.
#pragma once

#include <string>
#include <vector>

#include "sandbox/spec.hpp"

namespace jobcell {

struct GeneratedFile {
    std::string name;  // relative to /etc
    std::string content;
};

std::vector<GeneratedFile> generated_etc(const SandboxSpec& spec);

// Whether a host /etc entry may be shown in a cell at all, whatever a policy says: secrets
// and credentials never are (shadow, gshadow, ssh, sudoers, ssl/private, gitlab-runner, ...).
bool host_etc_entry_allowed(const std::string& relative);

}  // namespace jobcell
