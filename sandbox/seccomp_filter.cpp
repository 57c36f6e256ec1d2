#include "sandbox/seccomp_filter.hpp"

#include <linux/filter.h>
#include <seccomp.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>

#include "sandbox/error.hpp"

namespace jobcell {
namespace {

struct CtxRelease {
    void operator()(void* ctx) const { seccomp_release(static_cast<scmp_filter_ctx>(ctx)); }
};
using CtxOwner = std::unique_ptr<void, CtxRelease>;

// x86_64 numbers with this bit set are x32 syscalls: same arch token, different table. A filter
// written for x86_64 numbers must not see them (they would dodge every rule).
constexpr std::uint32_t kX32SyscallBit = 0x40000000;

scmp_compare to_scmp(ArgCondition::Op op) {
    switch (op) {
        case ArgCondition::Op::eq:
            return SCMP_CMP_EQ;
        case ArgCondition::Op::ne:
            return SCMP_CMP_NE;
        case ArgCondition::Op::masked_eq:
            return SCMP_CMP_MASKED_EQ;
        case ArgCondition::Op::gt:
            return SCMP_CMP_GT;
    }
    throw Error("seccomp: unknown argument comparison");
}

void check(int rc, std::string_view what) {
    if (rc < 0) throw_errno("seccomp: " + std::string(what), -rc);
}

void validate(const SyscallRule& rule) {
    const std::string where = "seccomp: rule for '" + std::string(rule.syscall) + "'";
    if (rule.errno_value <= 0 || rule.errno_value > 4095) {
        throw Error(where + ": errno " + std::to_string(rule.errno_value) + " out of range");
    }
    if (rule.conditions.size() > 6) throw Error(where + ": more than 6 conditions");
    for (const ArgCondition& c : rule.conditions) {
        if (c.arg > 5) throw Error(where + ": argument index " + std::to_string(c.arg) + " > 5");
        if (c.op == ArgCondition::Op::masked_eq && (c.value & ~c.mask) != 0) {
            throw Error(where + ": masked_eq value has bits outside the mask (never matches)");
        }
    }
}

// Runs an export function into a memfd and returns what it wrote.
template <typename Export>
std::string export_text(void* ctx, Export export_fn, const char* what) {
    const int fd = memfd_create("jobcell-seccomp-export", MFD_CLOEXEC);
    if (fd < 0) throw_errno(std::string("seccomp: memfd_create for ") + what);
    struct Closer {
        int fd;
        ~Closer() { close(fd); }
    } closer{fd};
    check(export_fn(static_cast<scmp_filter_ctx>(ctx), fd), what);
    if (lseek(fd, 0, SEEK_SET) < 0) throw_errno(std::string("seccomp: lseek ") + what);
    std::string out;
    char buf[4096];
    for (;;) {
        const ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno(std::string("seccomp: read ") + what);
        if (n == 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

// libseccomp emits "nr >= 0x40000000 && nr != -1 -> bad-arch action" for an x86_64 filter (the
// PFC export does not show it). Refuse a filter without it rather than trust a future version.
bool has_x32_guard(const std::string& bpf) {
    for (std::size_t off = 0; off + sizeof(sock_filter) <= bpf.size(); off += sizeof(sock_filter)) {
        sock_filter insn;
        bpf.copy(reinterpret_cast<char*>(&insn), sizeof insn, off);
        if (insn.code == (BPF_JMP | BPF_JGE | BPF_K) && insn.k == kX32SyscallBit) return true;
    }
    return false;
}

}  // namespace

SeccompFilter::SeccompFilter(const std::vector<SyscallRule>& rules) : ctx_(nullptr) {
    // Default allow; seccomp_init adds only the native architecture.
    CtxOwner ctx(seccomp_init(SCMP_ACT_ALLOW));
    if (!ctx) throw Error("seccomp: seccomp_init failed");
    // Anything not native (i386 via int 0x80, x32 numbers) dies instead of being allowed.
    check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS),
          "set bad-arch action");
    // load() should report the kernel's errno, not libseccomp's catch-all ECANCELED.
    check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_API_SYSRAWRC, 1), "set raw return codes");

    for (const SyscallRule& rule : rules) {
        validate(rule);
        const std::string name(rule.syscall);
        const int nr = seccomp_syscall_resolve_name(name.c_str());
        if (nr < 0 && seccomp_syscall_arch_optional(rule.syscall)) continue;
        if (nr == __NR_SCMP_ERROR) {
            throw Error("seccomp: syscall '" + name + "' is unknown on this architecture");
        }
        scmp_arg_cmp cmps[6] = {};
        unsigned n = 0;
        for (const ArgCondition& c : rule.conditions) {
            cmps[n].arg = c.arg;
            cmps[n].op = to_scmp(c.op);
            cmps[n].datum_a = c.op == ArgCondition::Op::masked_eq ? c.mask : c.value;
            cmps[n].datum_b = c.op == ArgCondition::Op::masked_eq ? c.value : 0;
            ++n;
        }
        check(seccomp_rule_add_array(ctx.get(),
                                     SCMP_ACT_ERRNO(static_cast<std::uint32_t>(rule.errno_value)),
                                     nr, n, cmps),
              "add rule for '" + name + "' (" + std::string(rule.why) + ")");
    }

    // The program is generated once, here: the one checked below is the one load() installs,
    // and the freshly cloned cell does no BPF generation (nor allocation) of its own.
    bpf_ = export_text(ctx.get(), seccomp_export_bpf, "BPF export");
    if (bpf_.empty() || bpf_.size() % sizeof(sock_filter) != 0) throw Error("seccomp: BPF export is malformed");
    if (seccomp_arch_native() == SCMP_ARCH_X86_64 && !has_x32_guard(bpf_)) {
        throw Error("seccomp: libseccomp emitted no x32 guard; x32 syscalls could bypass rules");
    }
    ctx_ = ctx.release();
}

SeccompFilter::~SeccompFilter() { seccomp_release(static_cast<scmp_filter_ctx>(ctx_)); }

int SeccompFilter::load() const {
    // As libseccomp's own load does: no_new_privs first, so no privilege is needed to filter.
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -errno;
    sock_fprog program{};
    program.len = static_cast<unsigned short>(bpf_.size() / sizeof(sock_filter));
    program.filter = reinterpret_cast<sock_filter*>(const_cast<char*>(bpf_.data()));
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) != 0) return -errno;
    return 0;
}

std::string SeccompFilter::to_pfc() const {
    return export_text(ctx_, seccomp_export_pfc, "PFC export");
}

std::vector<std::uint8_t> SeccompFilter::to_bpf() const { return {bpf_.begin(), bpf_.end()}; }

}  // namespace jobcell
