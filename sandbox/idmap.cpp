#include "sandbox/idmap.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "sandbox/error.hpp"

namespace jobcell {
namespace {

// A user namespace mapping the workspace owner's ids (as stored on disk) to the job's host
// ids. It is held by a short-lived child that only waits for its pipe to close.
Fd make_mapping_userns(std::uint32_t disk_uid, std::uint32_t disk_gid, std::uint32_t cell_uid,
                       std::uint32_t cell_gid) {
    Pipe hold = make_pipe();
    clone_args args{};
    args.flags = CLONE_NEWUSER;
    args.exit_signal = SIGCHLD;
    long pid = ::syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0) throw_errno("workspace idmap: clone user namespace");
    if (pid == 0) {
        hold.write.reset();
        char byte;
        while (::read(hold.read.get(), &byte, 1) < 0 && errno == EINTR) {
        }
        ::_exit(0);
    }
    hold.read.reset();
    auto reap = [&] {
        hold.write.reset();
        while (::waitpid(static_cast<pid_t>(pid), nullptr, 0) < 0 && errno == EINTR) {
        }
    };
    try {
        const std::string proc = "/proc/" + std::to_string(pid);
        write_file(proc + "/uid_map", std::to_string(disk_uid) + " " + std::to_string(cell_uid) + " 1\n");
        write_file(proc + "/gid_map", std::to_string(disk_gid) + " " + std::to_string(cell_gid) + " 1\n");
        Fd ns(::open((proc + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
        if (!ns.valid()) throw_errno("workspace idmap: open user namespace");
        reap();
        return ns;
    } catch (...) {
        reap();
        throw;
    }
}


// Opened once, refusing symlinks, and used by fd from then on: nothing can be swapped in
// between the check and the mount.
Fd open_workspace_dir(const std::string& dir, struct stat& st) {
    const std::string what = "workspace " + dir;
    open_how how{};
    how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW;
    how.resolve = RESOLVE_NO_SYMLINKS;
    Fd dir_fd(static_cast<int>(::syscall(SYS_openat2, AT_FDCWD, dir.c_str(), &how, sizeof how)));
    if (!dir_fd.valid()) throw_errno(what);
    if (::fstat(dir_fd.get(), &st) != 0) throw_errno(what);
    return dir_fd;
}

Fd clone_workspace(int dir_fd, const std::string& what) {
    Fd tree(::open_tree(dir_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH));
    if (!tree.valid()) throw_errno(what + ": clone mount");
    return tree;
}

void set_plain_attrs(int tree, const std::string& what) {
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    if (::mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof attr) != 0)
        throw_errno(what + ": set mount attributes");
}

}  // namespace

WorkspaceIdentity identify_workspace(const std::string& dir) {
    struct stat st {};
    open_workspace_dir(dir, st);
    return {st.st_dev, st.st_ino, true};
}

Fd clone_workspace_in_cell(const std::string& dir, const WorkspaceIdentity& expected) {
    const std::string what = "workspace " + dir;
    struct stat st {};
    Fd dir_fd = open_workspace_dir(dir, st);
    if (!expected.known || st.st_dev != expected.dev || st.st_ino != expected.ino)
        throw Error(what + ": replaced by another directory while the cell was being built");
    Fd tree = clone_workspace(dir_fd.get(), what);
    set_plain_attrs(tree.get(), what);
    return tree;
}

WorkspaceTree open_workspace_tree(const std::string& dir, std::uint32_t cell_uid, std::uint32_t cell_gid) {
    const std::string what = "workspace " + dir;
    struct stat st {};
    Fd dir_fd = open_workspace_dir(dir, st);
    WorkspaceTree ws;
    ws.tree = clone_workspace(dir_fd.get(), what);

    Fd userns = make_mapping_userns(st.st_uid, st.st_gid, cell_uid, cell_gid);
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    attr.userns_fd = static_cast<std::uint64_t>(userns.get());
    if (::mount_setattr(ws.tree.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) == 0) {
        ws.idmapped = true;
        return ws;
    }
    int err = errno;
    if (err != EINVAL && err != EOPNOTSUPP && err != ENOSYS && err != EPERM)
        throw_errno(what + ": idmapped mount", err);
    // The filesystem cannot idmap (or the kernel is too old): a plain bind, said out loud.
    ws.note = "its filesystem does not support idmapped mounts (" + errno_text(err) +
              "); files the job writes will be owned by host uid " + std::to_string(cell_uid);
    set_plain_attrs(ws.tree.get(), what);
    return ws;
}

}  // namespace jobcell
