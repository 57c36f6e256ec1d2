// Compiles a rule table into a libseccomp filter: native architecture only (x32 numbers and
// other ABIs kill the process), default allow, every table rule a deny with its errno.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sandbox/seccomp_rules.hpp"

namespace jobcell {

class SeccompFilter {
public:
    explicit SeccompFilter(const std::vector<SyscallRule>& rules);  // throws Error
    ~SeccompFilter();
    SeccompFilter(const SeccompFilter&) = delete;
    SeccompFilter& operator=(const SeccompFilter&) = delete;
    // Loads into the calling thread. Returns 0 or -errno (async-signal-safe enough for a
    // freshly cloned child: no exceptions).
    int load() const;
    // Pseudo-filter-code text for golden tests.
    std::string to_pfc() const;
    // The BPF program as loaded (struct sock_filter array, native endian), for tests that check
    // what the PFC does not show (libseccomp's x32 guard).
    std::vector<std::uint8_t> to_bpf() const;

private:
    void* ctx_;
    std::string bpf_;  // the generated program (sock_filter array), checked and loaded as is
};

}  // namespace jobcell
