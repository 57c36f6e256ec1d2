#include "sandbox/rootfs.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <string_view>

#include "sandbox/error.hpp"
#include "sandbox/fd.hpp"

namespace jobcell {
namespace {

constexpr std::string_view kRootStage = "/tmp";  // where the new root is staged before pivot

std::string strip_slashes(std::string_view path) {
    while (!path.empty() && path.front() == '/') path.remove_prefix(1);
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    return std::string(path);
}

// Opens (creating when asked) each component of `rel` beneath `dir`, refusing symlinks and "..".
Fd open_dir_beneath(int dir, std::string_view rel, bool create, std::string_view what) {
    Fd current(::fcntl(dir, F_DUPFD_CLOEXEC, 0));
    std::string path = strip_slashes(rel);
    std::size_t pos = 0;
    while (pos < path.size()) {
        std::size_t slash = path.find('/', pos);
        if (slash == std::string::npos) slash = path.size();
        std::string comp = path.substr(pos, slash - pos);
        pos = slash + 1;
        if (comp.empty() || comp == ".") continue;
        if (comp == "..") throw Error(std::string(what) + ": '..' in path " + std::string(rel));
        if (create && ::mkdirat(current.get(), comp.c_str(), 0755) != 0 && errno != EEXIST)
            throw_errno(std::string(what) + ": mkdir " + std::string(rel));
        open_how how{};
        how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW;
        how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH;
        int fd = static_cast<int>(::syscall(SYS_openat2, current.get(), comp.c_str(), &how, sizeof how));
        if (fd < 0) throw_errno(std::string(what) + ": open " + std::string(rel));
        current.reset(fd);
    }
    return current;
}

// Opens `name` in `dir` as a mount target for a file bind, creating it empty when missing.
Fd file_target(int dir, const std::string& name, std::string_view what) {
    open_how how{};
    how.flags = O_PATH | O_CLOEXEC | O_NOFOLLOW;
    how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH;
    int fd = static_cast<int>(::syscall(SYS_openat2, dir, name.c_str(), &how, sizeof how));
    if (fd < 0 && errno == ENOENT) {
        int created = ::openat(dir, name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (created < 0) throw_errno(std::string(what) + ": create " + name);
        ::close(created);
        fd = static_cast<int>(::syscall(SYS_openat2, dir, name.c_str(), &how, sizeof how));
    }
    if (fd < 0) throw_errno(std::string(what) + ": open " + name);
    return Fd(fd);
}

Fd clone_tree(int dir, const std::string& path, std::string_view what) {
    int fd = ::open_tree(dir, path.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (fd < 0) throw_errno(std::string(what) + ": clone " + path);
    return Fd(fd);
}

void set_attrs(int tree, std::uint64_t attrs, std::string_view what) {
    mount_attr attr{};
    attr.attr_set = attrs;
    if (::mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0)
        throw_errno(std::string(what) + ": set mount attributes");
}

void attach(int tree, int target, std::string_view what) {
    if (::move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
        throw_errno(std::string(what) + ": attach mount");
}

// A new filesystem instance (tmpfs, proc, devpts) as a detached mount.
Fd new_fs(const char* type, std::initializer_list<std::pair<const char*, std::string>> options,
          unsigned attrs, std::string_view what) {
    Fd fs(::fsopen(type, FSOPEN_CLOEXEC));
    if (!fs.valid()) throw_errno(std::string(what) + ": fsopen " + type);
    for (const auto& [key, value] : options) {
        if (::fsconfig(fs.get(), FSCONFIG_SET_STRING, key, value.c_str(), 0) != 0)
            throw_errno(std::string(what) + ": " + type + " option " + key + "=" + value);
    }
    if (::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
        throw_errno(std::string(what) + ": create " + type);
    int mnt = ::fsmount(fs.get(), FSMOUNT_CLOEXEC, attrs);
    if (mnt < 0) throw_errno(std::string(what) + ": mount " + type);
    return Fd(mnt);
}

// A host directory or file, read-only, at the same place under the new root (a host symlink
// is recreated as the same symlink).
void bind_host_readonly(int root, const std::string& host_path, const std::string& rel,
                        std::uint64_t attrs) {
    const std::string what = "bind " + host_path;
    struct stat st {};
    if (::lstat(host_path.c_str(), &st) != 0) {
        if (errno == ENOENT) return;  // the host lays itself out without it
        throw_errno(what);
    }
    std::string parent_rel, name = rel;
    if (auto slash = rel.rfind('/'); slash != std::string::npos) {
        parent_rel = rel.substr(0, slash);
        name = rel.substr(slash + 1);
    }
    Fd parent = open_dir_beneath(root, parent_rel, true, what);
    if (S_ISLNK(st.st_mode)) {
        char target[4096];
        ssize_t n = ::readlink(host_path.c_str(), target, sizeof target - 1);
        if (n < 0) throw_errno(what + ": readlink");
        target[n] = '\0';
        if (::symlinkat(target, parent.get(), name.c_str()) != 0 && errno != EEXIST)
            throw_errno(what + ": symlink");
        return;
    }
    Fd target = S_ISDIR(st.st_mode) ? open_dir_beneath(parent.get(), name, true, what)
                                    : file_target(parent.get(), name, what);
    Fd tree = clone_tree(AT_FDCWD, host_path, what);
    set_attrs(tree.get(), attrs, what);
    attach(tree.get(), target.get(), what);
}

void write_generated_etc(int etc, const std::vector<GeneratedFile>& files) {
    for (const auto& file : files) {
        Fd fd(::openat(etc, file.name.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
        if (!fd.valid() || !write_all(fd.get(), file.content.data(), file.content.size()))
            throw_errno("write /etc/" + file.name);
    }
}

void build_proc(int root) {
    Fd target = open_dir_beneath(root, "proc", true, "mount /proc");
    Fd proc = new_fs("proc", {}, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, "mount /proc");
    attach(proc.get(), target.get(), "mount /proc");
    Fd procdir = open_dir_beneath(root, "proc", false, "mount /proc");
    // Kernel knobs and triggers stay read-only.
    for (const char* dir : {"sys", "sysrq-trigger", "irq", "bus", "fs"}) {
        const std::string what = std::string("read-only /proc/") + dir;
        struct stat st {};
        if (::fstatat(procdir.get(), dir, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        Fd tree = clone_tree(procdir.get(), dir, what);
        set_attrs(tree.get(), MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, what);
        Fd tgt = S_ISDIR(st.st_mode) ? open_dir_beneath(procdir.get(), dir, false, what)
                                     : file_target(procdir.get(), dir, what);
        attach(tree.get(), tgt.get(), what);
    }
    // What leaks kernel memory or host-wide state is masked.
    for (const char* file : {"kcore", "keys", "timer_list", "sched_debug", "kallsyms", "kmsg"}) {
        const std::string what = std::string("mask /proc/") + file;
        struct stat st {};
        if (::fstatat(procdir.get(), file, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        Fd null = clone_tree(AT_FDCWD, "/dev/null", what);
        attach(null.get(), file_target(procdir.get(), file, what).get(), what);
    }
    for (const char* dir : {"acpi", "scsi"}) {
        const std::string what = std::string("mask /proc/") + dir;
        struct stat st {};
        if (::fstatat(procdir.get(), dir, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        Fd empty = new_fs("tmpfs", {{"size", "0"}, {"mode", "0555"}}, MOUNT_ATTR_RDONLY, what);
        attach(empty.get(), open_dir_beneath(procdir.get(), dir, false, what).get(), what);
    }
}

void build_dev(int root, const SandboxSpec& spec) {
    Fd target = open_dir_beneath(root, "dev", true, "mount /dev");
    Fd dev = new_fs("tmpfs", {{"size", "64k"}, {"mode", "0755"}, {"nr_inodes", "64"}},
                    MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, "mount /dev");
    attach(dev.get(), target.get(), "mount /dev");
    Fd devdir = open_dir_beneath(root, "dev", false, "mount /dev");
    for (const char* node : {"null", "zero", "full", "random", "urandom", "tty"}) {
        const std::string what = std::string("bind /dev/") + node;
        Fd tree = clone_tree(AT_FDCWD, std::string("/dev/") + node, what);
        set_attrs(tree.get(), MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, what);
        attach(tree.get(), file_target(devdir.get(), node, what).get(), what);
    }
    Fd pts = new_fs("devpts", {{"ptmxmode", "0666"}, {"mode", "0620"}},
                    MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, "mount /dev/pts");
    attach(pts.get(), open_dir_beneath(devdir.get(), "pts", true, "mount /dev/pts").get(), "mount /dev/pts");
    Fd shm = new_fs("tmpfs", {{"size", std::to_string(spec.limits.tmpfs_bytes)}, {"mode", "01777"},
                              {"nr_inodes", std::to_string(spec.limits.tmpfs_inodes)}},
                    MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, "mount /dev/shm");
    attach(shm.get(), open_dir_beneath(devdir.get(), "shm", true, "mount /dev/shm").get(), "mount /dev/shm");
    for (auto [name, to] : {std::pair{"ptmx", "pts/ptmx"}, {"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"},
                            {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"}}) {
        if (::symlinkat(to, devdir.get(), name) != 0) throw_errno(std::string("symlink /dev/") + name);
    }
    // Nothing is added to /dev once it is built (a rootless job user would own it otherwise);
    // the nodes, /dev/pts and /dev/shm are mounts of their own and stay as they are.
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_RDONLY;
    if (::mount_setattr(devdir.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) != 0)
        throw_errno("mount /dev: make it read-only");
}

// Size- and inode-limited tmpfs at `rel` (/tmp, $HOME).
void mount_scratch(int root, const std::string& rel, const SandboxSpec& spec, const std::string& mode,
                   bool owned_by_job) {
    const std::string what = "mount /" + rel;
    Fd target = open_dir_beneath(root, rel, true, what);
    // Rootless, the job user is the only id the cell has: it owns /tmp too.
    const bool job_owns = owned_by_job || spec.rootless;
    std::string uid = std::to_string(job_owns ? spec.user.uid : 0);
    std::string gid = std::to_string(job_owns ? spec.user.gid : 0);
    Fd fs = new_fs("tmpfs", {{"size", std::to_string(spec.limits.tmpfs_bytes)},
                             {"nr_inodes", std::to_string(spec.limits.tmpfs_inodes)},
                             {"mode", mode}, {"uid", uid}, {"gid", gid}},
                   MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, what);
    attach(fs.get(), target.get(), what);
}

}  // namespace

void build_rootfs(const SandboxSpec& spec, int workspace_tree, const std::vector<GeneratedFile>& etc,
                  const std::vector<int>& bind_trees) {
    const std::string stage(kRootStage);
    {
        Fd root_fs = new_fs("tmpfs", {{"size", "4m"}, {"nr_inodes", "4096"}, {"mode", "0755"}},
                            MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, "mount new root");
        if (::move_mount(root_fs.get(), "", AT_FDCWD, stage.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
            throw_errno("mount new root on " + stage);
    }
    Fd root(::open(stage.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
    if (!root.valid()) throw_errno("open new root");

    constexpr std::uint64_t ro = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    for (const auto& dir : spec.system_dirs) bind_host_readonly(root.get(), dir, strip_slashes(dir), ro);

    Fd etc_dir = open_dir_beneath(root.get(), "etc", true, "populate /etc");
    write_generated_etc(etc_dir.get(), etc);
    for (const auto& entry : spec.host_etc) {
        if (!host_etc_entry_allowed(entry)) throw Error("host_etc: /etc/" + entry + " is never shown in a cell");
        bind_host_readonly(root.get(), "/etc/" + entry, "etc/" + entry, ro);
    }

    build_dev(root.get(), spec);
    mount_scratch(root.get(), "tmp", spec, "01777", false);
    mount_scratch(root.get(), strip_slashes(spec.user.home), spec, "0700", true);

    // Last, so that it may live under /tmp or $HOME.
    const std::string& ws_at = spec.workspace_at.empty() ? spec.workspace : spec.workspace_at;
    Fd ws_target = open_dir_beneath(root.get(), ws_at, true, "mount workspace " + ws_at);
    attach(workspace_tree, ws_target.get(), "mount workspace " + ws_at);
    if (bind_trees.size() != spec.binds.size()) throw Error("binds: a mount for each bind, in order");
    for (std::size_t i = 0; i < spec.binds.size(); ++i) {
        const CellBind& bind = spec.binds[i];
        const std::string what = "bind " + bind.host + " -> " + bind.cell;
        if (!bind.writable) set_attrs(bind_trees[i], MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, what);
        attach(bind_trees[i], open_dir_beneath(root.get(), bind.cell, true, what).get(), what);
    }

    build_proc(root.get());

    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_RDONLY;
    if (::mount_setattr(root.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) != 0)
        throw_errno("make the new root read-only");

    if (::fchdir(root.get()) != 0) throw_errno("chdir new root");
    if (::syscall(SYS_pivot_root, ".", ".") != 0) throw_errno("pivot_root");
    if (::umount2(".", MNT_DETACH) != 0) throw_errno("detach the host's root");
    if (::chdir("/") != 0) throw_errno("chdir /");
    if (::chdir(ws_at.c_str()) != 0) throw_errno("chdir " + ws_at);
}

}  // namespace jobcell
