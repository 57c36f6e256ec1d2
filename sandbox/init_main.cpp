// jobcell-init: pid 1 of every cell. A static program with no dependencies, run from a sealed
// memfd: it starts the job in a process group of its own, forwards SIGTERM/SIGINT/SIGHUP/
// SIGQUIT/SIGUSR1/SIGUSR2 to that group (as a terminal or GitLab Runner signals a job),
// reaps every orphan, and exits with the job's status (128+N for signal N) the moment the job
// itself ends. Its exit takes the whole pid namespace down, so nothing the job started
// outlives it (setsid daemons, double forks).
//
//   argv: jobcell-init COMMAND [ARG...]      environment: exactly the job's

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

constexpr int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

int status_code(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 125;
}

[[noreturn]] void exec_job(char** argv, const sigset_t& original) {
    setpgid(0, 0);
    for (int sig : forwarded) signal(sig, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    sigprocmask(SIG_SETMASK, &original, nullptr);
    execvp(argv[0], argv);
    int err = errno;
    // As shells do: 127 for "not found", 126 for "found but not executable".
    if (err == ENOENT || err == ENOTDIR) {
        dprintf(2, "jobcell: %s: command not found\n", argv[0]);
        _exit(127);
    }
    dprintf(2, "jobcell: %s: cannot execute: %s\n", argv[0], strerror(err));
    _exit(126);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        dprintf(2, "jobcell-init: no command\n");
        return 125;
    }
    prctl(PR_SET_NAME, "jobcell-init", 0, 0, 0);
    // The job runs as the same uid; without this it could ptrace (and stop) its own init, or
    // write through /proc/1/mem. The job's own execve makes it dumpable again.
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

    sigset_t handled, original;
    sigemptyset(&handled);
    for (int sig : forwarded) sigaddset(&handled, sig);
    sigaddset(&handled, SIGCHLD);
    sigprocmask(SIG_BLOCK, &handled, &original);

    pid_t job = fork();
    if (job < 0) {
        dprintf(2, "jobcell-init: fork: %s\n", strerror(errno));
        return 125;
    }
    if (job == 0) exec_job(argv + 1, original);
    setpgid(job, job);  // both sides, so a signal arriving before the child's own call finds the group

    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(&handled, &info);
        if (sig < 0) continue;  // EINTR
        if (sig != SIGCHLD) {
            // The whole group: a shell's children (the runner's `: | eval` subshell, make's
            // recipes) see the cancel too. The job itself, should it have left the group.
            if (kill(-job, sig) != 0 || getpgid(job) != job) kill(job, sig);
            continue;
        }
        int status = 0;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            if (pid == job) return status_code(status);
        }
    }
}
