#include "net/pool_lease.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <cerrno>
#include <random>

#include "sandbox/error.hpp"

namespace jobcell {
namespace {

void make_dirs(const std::string& dir) {
    for (std::size_t slash = 1; slash != std::string::npos;) {
        slash = dir.find('/', slash + 1);
        const std::string part = dir.substr(0, slash);
        if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) throw_errno("create " + part);
    }
}

std::string lock_path(const std::string& dir, unsigned index) { return dir + "/" + std::to_string(index) + ".lock"; }

// The lock of `index` if nobody holds it, else an invalid Fd.
Fd try_lock(const std::string& dir, unsigned index) {
    Fd fd(::open(lock_path(dir, index).c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd.valid()) throw_errno("open " + lock_path(dir, index));
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) return Fd();
        throw_errno("lock " + lock_path(dir, index));
    }
    return fd;
}

}  // namespace

PoolLease lease_pool_index(unsigned capacity, const std::string& dir) {
    if (capacity == 0) throw Error("address pool: no room for any cell");
    make_dirs(dir);
    std::random_device random;
    const unsigned start = random() % capacity;
    for (unsigned step = 0; step < capacity; ++step) {
        const unsigned index = (start + step) % capacity;
        if (Fd lock = try_lock(dir, index); lock.valid()) return PoolLease(index, std::move(lock));
    }
    throw Error("address pool: all " + std::to_string(capacity) + " cell addresses are in use");
}

std::optional<PoolLease> try_lease_pool_index(unsigned index, const std::string& dir) {
    make_dirs(dir);
    if (Fd lock = try_lock(dir, index); lock.valid()) return PoolLease(index, std::move(lock));
    return std::nullopt;
}

}  // namespace jobcell
