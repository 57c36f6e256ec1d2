// The job's stdin, stdout and stderr are the launcher's own descriptors, passed through as they
// are. One of them naming a directory (`jobcell run ... < /`) would hand the job the host's
// filesystem through /proc/self/fd/N, whatever the cell's mounts say; an O_PATH descriptor
// likewise. Those are refused before anything is built.
#pragma once

#include <string>

namespace jobcell {

// Pure: why descriptor `fd` (0, 1 or 2), of file type `st_mode` and with open flags
// `status_flags` (fcntl F_GETFL), cannot be given to a job; "" when it can.
std::string job_stdio_problem(int fd, unsigned st_mode, int status_flags);

// Throws Error with the first problem of fds 0..2 (fstat, fcntl).
void check_job_stdio();

// Opens /dev/null on whichever of fds 0..2 is closed, so that no descriptor jobcell opens later
// can take one of those numbers and be inherited by the job. First thing in main().
void fill_closed_stdio();

}  // namespace jobcell
