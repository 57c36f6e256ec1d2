#include "launcher/gitlab_state.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "sandbox/error.hpp"
#include "sandbox/remove_tree.hpp"

namespace jobcell {
namespace {

constexpr std::size_t kMaxDecisionBytes = 1u << 20;
constexpr std::size_t kMaxScriptBytes = 64u << 20;  // a runner script embeds every variable

void make_dir(const std::string& path, bool exclusive) {
    if (::mkdir(path.c_str(), 0700) == 0) return;
    if (errno == EEXIST && !exclusive) {
        struct stat st {};
        if (::lstat(path.c_str(), &st) != 0) throw_errno(path);
        if (!S_ISDIR(st.st_mode)) throw Error(path + ": not a directory (a symlink or file is in the way)");
        return;
    }
    throw_errno("mkdir " + path);
}

// Reads a regular file opened without following symlinks, of at most `limit` bytes.
std::string read_regular(int fd, std::size_t limit, const std::string& what) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw_errno(what);
    if (!S_ISREG(st.st_mode)) throw Error(what + ": not a regular file");
    if (static_cast<std::uint64_t>(st.st_size) > limit)
        throw Error(what + ": larger than " + std::to_string(limit) + " bytes");
    std::string text = read_all(fd, limit + 1);
    if (text.size() > limit) throw Error(what + ": larger than " + std::to_string(limit) + " bytes");
    return text;
}

// Writes `content` to dir/name through a temporary file, so readers see all of it or nothing.
// exclusive: link(2) instead of rename(2), so an existing file is never replaced.
void write_atomically(const std::string& dir, const std::string& name, const std::string& content, mode_t mode,
                      bool exclusive) {
    const std::string tmp = dir + "/." + name + ".tmp";
    const std::string final_path = dir + "/" + name;
    ::unlink(tmp.c_str());
    {
        Fd fd(::open(tmp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, mode));
        if (!fd.valid()) throw_errno("create " + tmp);
        if (::fchmod(fd.get(), mode) != 0) throw_errno("chmod " + tmp);  // umask aside
        if (!write_all(fd.get(), content.data(), content.size()) || ::fsync(fd.get()) != 0)
            throw_errno("write " + tmp);
    }
    const int rc = exclusive ? ::link(tmp.c_str(), final_path.c_str()) : ::rename(tmp.c_str(), final_path.c_str());
    const int err = errno;
    ::unlink(tmp.c_str());
    if (rc != 0) {
        if (exclusive && err == EEXIST) throw Error(final_path + ": exists already; it is written once");
        throw_errno("write " + final_path, err);
    }
}

pid_t read_pid(int fd) {
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return 0;
    char* end = nullptr;
    const long pid = std::strtol(buf, &end, 10);
    return pid > 0 && pid <= INT_MAX ? static_cast<pid_t>(pid) : 0;
}

// The lock holder is `jobcell gitlab run`: never signal a pid whose process is something else.
bool is_jobcell(pid_t pid) {
    Fd fd(::open(("/proc/" + std::to_string(pid) + "/comm").c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return false;
    return read_all(fd.get(), 64) == "jobcell\n";
}

bool try_lock(int fd) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return true;
    if (errno != EWOULDBLOCK && errno != EINTR) throw_errno("flock");
    return false;
}

// Polls for the lock until `deadline`; true when it is ours.
bool lock_until(int fd, std::chrono::steady_clock::time_point deadline) {
    for (;;) {
        if (try_lock(fd)) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

}  // namespace

GitlabStateRoot::GitlabStateRoot(const std::string& root) {
    if (root.empty() || root[0] != '/') throw Error("gitlab state directory " + root + ": expected an absolute path");
    std::error_code ec;
    // Its parents as usual, itself 0700: it holds job responses' tokens and every workspace.
    const bool created = std::filesystem::create_directories(root, ec);
    if (ec) throw Error("gitlab state directory " + root + ": " + ec.message());
    if (created && ::chmod(root.c_str(), 0700) != 0) throw_errno("gitlab state directory " + root);
    char resolved[PATH_MAX];
    if (::realpath(root.c_str(), resolved) == nullptr) throw_errno("gitlab state directory " + root);
    root_ = resolved;
    struct stat st {};
    if (::stat(root_.c_str(), &st) != 0) throw_errno("gitlab state directory " + root_);
    // Someone who can write here could swap a job's decision or workspace.
    if (st.st_uid != ::geteuid() || (st.st_mode & 022) != 0)
        throw Error("gitlab state directory " + root_ + ": must be owned by uid " + std::to_string(::geteuid()) +
                    " and writable by nobody else");
    make_dir(root_ + "/jobs", false);
    make_dir(root_ + "/cache", false);
}

std::string GitlabStateRoot::cache_dir(const std::string& tier, const std::string& project) const {
    const std::string tier_dir = root_ + "/cache/" + tier;
    make_dir(tier_dir, false);
    const std::string dir = tier_dir + "/" + (project.empty() ? "no-project" : project);
    make_dir(dir, false);
    return dir;
}

void create_gitlab_job(const GitlabStateRoot& root, const std::string& job_id, const nlohmann::json& decision) {
    const std::string dir = root.job_dir(job_id);
    if (::mkdir(dir.c_str(), 0700) != 0) {
        if (errno == EEXIST)
            throw Error("job " + job_id + ": prepared already (" + dir +
                        " exists); a job's tier is decided once, and cleanup removes it");
        throw_errno("mkdir " + dir);
    }
    make_dir(dir + "/builds", true);
    make_dir(dir + "/stage", true);
    write_atomically(dir, "lock", "", 0600, true);
    write_atomically(dir, "decision.json", decision.dump() + "\n", 0600, true);
}

nlohmann::json read_gitlab_decision(const GitlabStateRoot& root, const std::string& job_id) {
    const std::string path = root.job_dir(job_id) + "/decision.json";
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (!fd.valid()) {
        if (errno == ENOENT) throw Error("job " + job_id + ": no decision at " + path + " (was prepare run?)");
        throw_errno(path);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw_errno(path);
    if (st.st_uid != ::geteuid() || (st.st_mode & 07777) != 0600)
        throw Error(path + ": expected mode 0600 and owner uid " + std::to_string(::geteuid()) +
                    "; refusing a decision someone else could have written");
    const std::string text = read_regular(fd.get(), kMaxDecisionBytes, path);
    nlohmann::json stored = nlohmann::json::parse(text, nullptr, false);
    if (stored.is_discarded()) throw Error(path + ": invalid JSON");
    return stored;
}

GitlabJobLock::GitlabJobLock(const GitlabStateRoot& root, const std::string& job_id) {
    const std::string path = root.job_dir(job_id) + "/lock";
    fd_.reset(::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
    if (!fd_.valid()) {
        if (errno == ENOENT) throw Error("job " + job_id + ": not prepared (no " + path + ")");
        throw_errno(path);
    }
    if (!try_lock(fd_.get())) {
        throw Error("job " + job_id + ": another stage of it is running (pid " + std::to_string(read_pid(fd_.get())) +
                    ")");
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_.get(), 0) != 0 || ::pwrite(fd_.get(), pid.data(), pid.size(), 0) < 0)
        throw_errno("write " + path);
}

std::string copy_gitlab_stage_script(const GitlabStateRoot& root, const std::string& job_id,
                                     const std::string& script) {
    Fd src(::open(script.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (!src.valid()) throw_errno("script " + script);
    const std::string text = read_regular(src.get(), kMaxScriptBytes, "script " + script);
    const std::string dir = root.job_dir(job_id) + "/stage";
    write_atomically(dir, "script", text, 0700, false);
    return dir;
}

bool remove_gitlab_job(const GitlabStateRoot& root, const std::string& job_id, std::chrono::milliseconds grace) {
    const std::string dir = root.job_dir(job_id);
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0) {
        if (errno == ENOENT) return false;
        throw_errno(dir);
    }
    if (Fd lock(::open((dir + "/lock").c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW)); lock.valid()) {
        if (!try_lock(lock.get())) {
            // A stage is still running (a cancel the runner gave up waiting on, or a cleanup
            // that raced the last stage): stop it the way the runner would.
            const pid_t pid = read_pid(lock.get());
            if (pid > 0 && is_jobcell(pid)) ::kill(pid, SIGTERM);
            auto now = std::chrono::steady_clock::now();
            if (!lock_until(lock.get(), now + grace)) {
                if (pid > 0 && is_jobcell(pid)) ::kill(pid, SIGKILL);
                if (!lock_until(lock.get(), std::chrono::steady_clock::now() + std::chrono::seconds(10)))
                    throw Error("job " + job_id + ": the stage holding " + dir + "/lock (pid " + std::to_string(pid) +
                                ") did not stop");
            }
        }
    }
    remove_tree(dir);  // never follows symlinks the job left; bounded fds however deep its tree
    return true;
}

}  // namespace jobcell
