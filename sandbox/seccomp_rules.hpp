// The syscall rules of a cell, as data. seccomp_filter.cpp turns a table into a libseccomp
// filter; the architecture checks live there, not here. A golden test pins the table.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace jobcell {

struct ArgCondition {
    enum class Op { eq, ne, masked_eq, gt };
    unsigned arg = 0;            // 0..5
    Op op = Op::eq;
    std::uint64_t mask = 0;      // masked_eq only
    std::uint64_t value = 0;
};

// Deny `syscall` with `errno_value` when every condition holds (no conditions: always).
struct SyscallRule {
    std::string_view syscall;
    int errno_value = 0;
    std::vector<ArgCondition> conditions;
    std::string_view why;
};

// The named profile's rules; throws Error for an unknown name.
const std::vector<SyscallRule>& seccomp_profile(std::string_view name);

// True for syscalls that only some architectures have (iopl, ioperm, uselib, kexec_file_load):
// a rule naming one is skipped where the architecture lacks it. Any other name the
// architecture does not know is an error when the filter is built.
bool seccomp_syscall_arch_optional(std::string_view syscall);

}  // namespace jobcell
