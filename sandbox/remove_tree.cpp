#include "sandbox/remove_tree.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "sandbox/error.hpp"
#include "sandbox/fd.hpp"

namespace jobcell {
namespace {

// Directories deeper than this are moved up to the top of the tree and removed from there,
// so at most this many descriptors are open at once.
constexpr int kMaxOpenDepth = 32;

struct TreeRemoval {
    std::string path;  // for messages
    int top = -1;
    unsigned long moved = 0;
};

bool is_dir_entry(int dir, const dirent& entry) {
    if (entry.d_type != DT_UNKNOWN) return entry.d_type == DT_DIR;
    struct stat st {};
    return ::fstatat(dir, entry.d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

// Moves directory `name` of `dir` to the top of the tree under a fresh name.
void move_to_top(TreeRemoval& r, int dir, const char* name) {
    for (;;) {
        const std::string flat = ".jobcell-flat-" + std::to_string(r.moved++);
        if (::renameat(dir, name, r.top, flat.c_str()) == 0) return;
        if (errno != EEXIST && errno != ENOTEMPTY) throw_errno("remove " + r.path + ": move a deep directory up");
    }
}

// Empties `dir` (depth levels below the top); true when it found nothing left to do.
bool empty_dir(TreeRemoval& r, int dir, int depth) {
    Fd listing(::openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!listing.valid()) throw_errno("remove " + r.path + ": open");
    DIR* stream = ::fdopendir(listing.get());
    if (stream == nullptr) throw_errno("remove " + r.path + ": list");
    listing.release();
    bool was_empty = true;
    std::vector<std::string> subdirs;
    try {
        errno = 0;
        while (const dirent* entry = ::readdir(stream)) {
            const std::string name = entry->d_name;
            if (name == "." || name == "..") continue;
            was_empty = false;
            if (is_dir_entry(dir, *entry)) subdirs.push_back(name);
            else if (::unlinkat(dir, name.c_str(), 0) != 0 && errno != ENOENT)
                throw_errno("remove " + r.path + ": unlink " + name);
        }
    } catch (...) {
        ::closedir(stream);
        throw;
    }
    ::closedir(stream);
    for (const std::string& name : subdirs) {
        if (depth + 1 >= kMaxOpenDepth) {
            move_to_top(r, dir, name.c_str());
            continue;
        }
        Fd sub(::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!sub.valid()) throw_errno("remove " + r.path + ": open " + name);
        while (!empty_dir(r, sub.get(), depth + 1)) {
        }
        if (::unlinkat(dir, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
            throw_errno("remove " + r.path + ": rmdir " + name);
    }
    return was_empty;
}

}  // namespace

void remove_tree(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return;
        throw_errno("remove " + path);
    }
    if (!S_ISDIR(st.st_mode)) {
        if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw_errno("remove " + path);
        return;
    }
    Fd top(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!top.valid()) throw_errno("remove " + path);
    TreeRemoval r{path, top.get(), 0};
    // Directories moved up land in the top while it is being listed: passes repeat until one
    // finds it empty.
    while (!empty_dir(r, top.get(), 0)) {
    }
    top.reset();
    if (::rmdir(path.c_str()) != 0 && errno != ENOENT) throw_errno("remove " + path);
}

}  // namespace jobcell
