#include <fcntl.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "sandbox/job_stdio.hpp"

using namespace jobcell;

TEST_CASE("job stdio: files, pipes, terminals and sockets pass; directories, symlinks and O_PATH do not", "[stdio]") {
    for (unsigned type : {S_IFREG, S_IFIFO, S_IFCHR, S_IFSOCK, S_IFBLK}) CHECK(job_stdio_problem(0, type | 0644, O_RDWR).empty());
    CHECK(job_stdio_problem(0, S_IFDIR | 0755, O_RDONLY) ==
          "stdin (fd 0) is a directory: the job could reach the host's files through /proc/self/fd/0; give it a "
          "file, a pipe, a terminal or /dev/null");
    CHECK_THAT(job_stdio_problem(1, S_IFREG | 0644, O_PATH), Catch::StartsWith("stdout (fd 1) is an O_PATH descriptor"));
    CHECK_THAT(job_stdio_problem(2, S_IFLNK | 0777, O_PATH | O_NOFOLLOW), Catch::StartsWith("stderr (fd 2) is an O_PATH"));
    CHECK_THAT(job_stdio_problem(2, S_IFLNK | 0777, O_RDONLY), Catch::StartsWith("stderr (fd 2) is a symbolic link"));
}
