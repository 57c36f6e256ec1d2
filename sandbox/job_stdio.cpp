#include "sandbox/job_stdio.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "sandbox/error.hpp"

namespace jobcell {
namespace {

const char* stdio_name(int fd) { return fd == 0 ? "stdin" : fd == 1 ? "stdout" : "stderr"; }

}  // namespace

std::string job_stdio_problem(int fd, unsigned st_mode, int status_flags) {
    const std::string what = std::string(stdio_name(fd)) + " (fd " + std::to_string(fd) + ")";
    const std::string why = ": the job could reach the host's files through /proc/self/fd/" + std::to_string(fd) +
                            "; give it a file, a pipe, a terminal or /dev/null";
    if ((status_flags & O_PATH) == O_PATH) return what + " is an O_PATH descriptor" + why;
    if (S_ISDIR(st_mode)) return what + " is a directory" + why;
    if (S_ISLNK(st_mode)) return what + " is a symbolic link" + why;
    return "";
}

void check_job_stdio() {
    for (int fd = 0; fd <= 2; ++fd) {
        struct stat st {};
        if (::fstat(fd, &st) != 0) throw_errno(std::string("fstat ") + stdio_name(fd));
        const int flags = ::fcntl(fd, F_GETFL);
        if (flags < 0) throw_errno(std::string("fcntl ") + stdio_name(fd));
        if (std::string problem = job_stdio_problem(fd, st.st_mode, flags); !problem.empty()) throw Error(problem);
    }
}

void fill_closed_stdio() {
    for (int fd = 0; fd <= 2; ++fd) {
        if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
        const int null = ::open("/dev/null", O_RDWR);  // the lowest free number: fd itself
        if (null >= 0 && null != fd) ::close(null);
    }
}

}  // namespace jobcell
