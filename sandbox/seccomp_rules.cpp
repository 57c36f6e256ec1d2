#include "sandbox/seccomp_rules.hpp"

#include <linux/netlink.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <string>

#include "sandbox/error.hpp"

namespace jobcell {
namespace {

using Op = ArgCondition::Op;

// The kernel reads ioctl's request (and socket's int arguments) as 32 bits; a rule that compares
// all 64 bits with plain equality is bypassed by setting a high bit (CVE-2019-10063).
constexpr std::uint64_t kLow32 = 0xffffffffULL;

SyscallRule deny(std::string_view name, std::string_view why) {
    return SyscallRule{name, EPERM, {}, why};
}

std::vector<SyscallRule> default_profile() {
    std::vector<SyscallRule> rules = {
        // The filesystem view is built by the launcher; the job must not rearrange it.
        deny("mount", "the cell's mounts are fixed by the launcher"),
        deny("umount2", "unmounting could expose what a mount hides"),
        deny("pivot_root", "the root is fixed by the launcher"),
        deny("chroot", "the root is fixed by the launcher; chroot games aid escapes"),
        deny("open_tree", "new mount API: clones mounts"),
        deny("move_mount", "new mount API: attaches mounts"),
        deny("fsopen", "new mount API: creates filesystems"),
        deny("fsconfig", "new mount API: configures filesystems"),
        deny("fsmount", "new mount API: creates mounts"),
        deny("fspick", "new mount API: reconfigures existing mounts"),
        deny("mount_setattr", "new mount API: could make read-only mounts writable"),
        // Namespaces are the launcher's; a new user namespace hands back a full capability set
        // and with it the kernel surface that capabilities gate.
        deny("unshare", "new namespaces (a user namespace regains capabilities)"),
        deny("setns", "joining other namespaces"),
        // The host kernel itself.
        deny("kexec_load", "replaces the running kernel"),
        deny("kexec_file_load", "replaces the running kernel"),
        deny("init_module", "loads kernel code"),
        deny("finit_module", "loads kernel code"),
        deny("delete_module", "unloads kernel code"),
        deny("reboot", "reboots the host (or the pid namespace)"),
        deny("swapon", "host swap configuration"),
        deny("swapoff", "host swap configuration"),
        deny("acct", "host process accounting"),
        deny("quotactl", "host filesystem quotas"),
        deny("syslog", "the kernel log leaks kernel addresses"),
        deny("vhangup", "hangs up the terminal"),
        deny("iopl", "raw I/O port access"),
        deny("ioperm", "raw I/O port access"),
        deny("lookup_dcookie", "kernel-internal profiling interface"),
        deny("uselib", "obsolete a.out loader, old exploit target"),
        // Large attack surfaces that builds do not need.
        deny("bpf", "eBPF: large kernel attack surface"),
        deny("perf_event_open", "kernel attack surface and side channels"),
        deny("userfaultfd", "stalls kernel page faults: widens kernel race windows for exploits"),
        deny("keyctl", "kernel keyrings are not namespaced"),
        deny("add_key", "kernel keyrings are not namespaced"),
        deny("request_key", "kernel keyrings are not namespaced"),
        deny("io_uring_setup", "io_uring: large attack surface; its operations bypass seccomp"),
        deny("io_uring_enter", "io_uring: large attack surface; its operations bypass seccomp"),
        deny("io_uring_register", "io_uring: large attack surface; its operations bypass seccomp"),
        deny("open_by_handle_at", "opens files by handle, outside the mount view (Shocker)"),
        deny("name_to_handle_at", "companion of open_by_handle_at"),
    };

    // clone with a namespace flag: EPERM. fork/threads (no namespace flags) stay allowed.
    constexpr std::array<std::pair<std::uint64_t, std::string_view>, 8> ns_flags = {{
        {CLONE_NEWNS, "clone into a new mount namespace"},
        {CLONE_NEWUSER, "clone into a new user namespace (regains capabilities)"},
        {CLONE_NEWPID, "clone into a new pid namespace"},
        {CLONE_NEWNET, "clone into a new network namespace"},
        {CLONE_NEWIPC, "clone into a new ipc namespace"},
        {CLONE_NEWUTS, "clone into a new uts namespace"},
        {CLONE_NEWCGROUP, "clone into a new cgroup namespace"},
        // In clone() this bit lies inside CSIGNAL (the exit signal), so it only rejects exit
        // signals >= 128, which are invalid anyway; kept so every namespace flag is listed.
        {CLONE_NEWTIME, "clone into a new time namespace (only via clone3; see CSIGNAL)"},
    }};
    for (const auto& [flag, why] : ns_flags) {
        rules.push_back({"clone", EPERM, {{0, Op::masked_eq, flag, flag}}, why});
    }
    rules.push_back({"clone3",
                     ENOSYS,
                     {},
                     "its flags live in memory seccomp cannot read; ENOSYS makes glibc fall back "
                     "to clone, which the rules above can check"});

    rules.push_back(
        {"ioctl",
         EPERM,
         {{1, Op::masked_eq, kLow32, TIOCSTI}},
         "TIOCSTI injects input into a terminal (compared on 32 bits: CVE-2019-10063)"});
    rules.push_back({"ioctl",
                     EPERM,
                     {{1, Op::masked_eq, kLow32, TIOCLINUX}},
                     "TIOCLINUX can paste into a console (compared on 32 bits: CVE-2019-10063)"});

    // socket: unix, inet, inet6 and netlink(route) only. Plain 64-bit eq is enough here because
    // the `gt` rule catches every value with high bits set.
    constexpr std::array<std::uint64_t, 4> allowed_families = {AF_UNIX, AF_INET, AF_INET6,
                                                               AF_NETLINK};
    for (std::uint64_t family = 0; family < AF_MAX; ++family) {
        if (std::find(allowed_families.begin(), allowed_families.end(), family) !=
            allowed_families.end()) {
            continue;
        }
        rules.push_back({"socket",
                         EPERM,
                         {{0, Op::eq, 0, family}},
                         family == AF_PACKET ? "raw packets: sniffing and spoofing"
                                             : "address family builds do not need"});
    }
    rules.push_back({"socket",
                     EPERM,
                     {{0, Op::gt, 0, AF_MAX - 1}},
                     "families newer than this table, negative, or with high bits set"});
    rules.push_back({"socket",
                     EPERM,
                     {{0, Op::eq, 0, AF_NETLINK}, {2, Op::ne, 0, NETLINK_ROUTE}},
                     "netlink other than route (audit, netfilter, uevents, ...)"});

    // The workspace is idmapped to its host owner, often root: a set-user-ID or set-group-ID
    // file the job made would be a root-owned setuid binary on the runner host. Inside the cell
    // no_new_privs already makes such bits inert; these rules keep them off the host.
    constexpr std::array<std::pair<std::string_view, unsigned>, 9> mode_args = {{
        {"chmod", 1}, {"fchmod", 1}, {"fchmodat", 2}, {"fchmodat2", 2}, {"creat", 1},
        {"open", 2}, {"openat", 3}, {"mknod", 1}, {"mknodat", 2},
    }};
    for (const auto& [syscall, arg] : mode_args) {
        for (std::uint64_t bit : {std::uint64_t{S_ISUID}, std::uint64_t{S_ISGID}}) {
            rules.push_back({syscall, EPERM, {{arg, Op::masked_eq, bit, bit}},
                             bit == S_ISUID ? "set-user-ID files would be root's on the host workspace"
                                            : "set-group-ID files would be root's on the host workspace"});
        }
    }
    rules.push_back({"openat2", ENOSYS, {},
                     "its mode lives in memory seccomp cannot read; ENOSYS makes callers fall back to openat"});
    return rules;
}

}  // namespace

const std::vector<SyscallRule>& seccomp_profile(std::string_view name) {
    if (name == "default") {
        static const std::vector<SyscallRule> rules = default_profile();
        return rules;
    }
    throw Error("unknown seccomp profile '" + std::string(name) + "' (known: default)");
}

bool seccomp_syscall_arch_optional(std::string_view syscall) {
    // iopl/ioperm: x86 only; uselib: not on arm64/riscv64; kexec_file_load: not on i386.
    static constexpr std::array<std::string_view, 4> optional = {"iopl", "ioperm", "uselib",
                                                                 "kexec_file_load"};
    return std::find(optional.begin(), optional.end(), syscall) != optional.end();
}

}  // namespace jobcell
