#include "sandbox/fd.hpp"

#include <fcntl.h>

#include <cerrno>

#include "sandbox/error.hpp"

namespace jobcell {

Pipe make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe");
    return Pipe{Fd(fds[0]), Fd(fds[1])};
}

bool write_all(int fd, const void* data, std::size_t size) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
        ssize_t n = ::write(fd, p, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

std::string read_all(int fd, std::size_t limit) {
    std::string out;
    char buf[4096];
    while (out.size() < limit) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

void write_file(const std::string& path, std::string_view content, unsigned mode) {
    Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
    if (!fd.valid()) throw_errno("write " + path);
    if (!write_all(fd.get(), content.data(), content.size())) throw_errno("write " + path);
}

}  // namespace jobcell
