// Fd: the owner of one file descriptor. Every kernel handle jobcell opens lives in one.
#pragma once

#include <unistd.h>

#include <string>
#include <string_view>
#include <utility>

namespace jobcell {

class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() { reset(); }
    Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Fd& operator=(Fd&& other) noexcept {
        if (this != &other) {
            reset();
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;

    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    int release() { return std::exchange(fd_, -1); }
    void reset(int fd = -1) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

// A pipe with both ends owned; O_CLOEXEC.
struct Pipe {
    Fd read;
    Fd write;
};
Pipe make_pipe();  // throws Error

// Writes all of `data` or returns false.
bool write_all(int fd, const void* data, std::size_t size);
// Reads until EOF (or `limit` bytes).
std::string read_all(int fd, std::size_t limit = 64 * 1024);
// Writes a whole file (O_CREAT|O_TRUNC, given mode); throws Error with the path.
void write_file(const std::string& path, std::string_view content, unsigned mode = 0644);

}  // namespace jobcell
