// GitLab custom executor: each job's state on the runner host, keyed by the job response's id.
//
//   <root>/jobs/<id>/decision.json   what prepare decided: written once, atomically, root 0600
//   <root>/jobs/<id>/lock            flock()ed by the running stage, which writes its pid there
//   <root>/jobs/<id>/builds/         the job's persistent workspace (the cell's /builds)
//   <root>/jobs/<id>/stage/script    the current stage's script, copied from the runner's
//   <root>/cache/<tier>/<project>/   the cache (the cell's /cache), split by tier
//
// Everything is root-owned and 0700/0600: the cells see the workspace, cache and script through
// idmapped mounts (sandbox/idmap.hpp), so nothing here needs to be readable by the job's uid.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "sandbox/fd.hpp"

namespace jobcell {

inline constexpr const char* kGitlabStateDirDefault = "/var/lib/jobcell/gitlab";
inline constexpr const char* kGitlabStateDirEnv = "JOBCELL_GITLAB_STATE_DIR";

class GitlabStateRoot {
public:
    // Creates the root (and its jobs/ and cache/) when missing; refuses a root that is a symlink
    // or that anyone but root could write to. Throws Error.
    explicit GitlabStateRoot(const std::string& root);

    const std::string& path() const { return root_; }
    std::string job_dir(const std::string& job_id) const { return root_ + "/jobs/" + job_id; }
    // Created (0700) when missing. tier: a policy tier name; project: digits or empty.
    std::string cache_dir(const std::string& tier, const std::string& project) const;

private:
    std::string root_;
};

// Prepare: creates the job's directory, workspace, stage dir and lock, and stores the decision.
// A job that was prepared before (its directory exists) is refused: a decision is made once.
void create_gitlab_job(const GitlabStateRoot& root, const std::string& job_id, const nlohmann::json& decision);

// The stored decision, refused unless it is a regular root-owned 0600 file of sane size.
nlohmann::json read_gitlab_decision(const GitlabStateRoot& root, const std::string& job_id);

// Held for one stage: an exclusive flock on the job's lock file, with this process's pid in it.
// Throws Error when the job was not prepared or another stage of it is running.
class GitlabJobLock {
public:
    GitlabJobLock(const GitlabStateRoot& root, const std::string& job_id);

private:
    Fd fd_;
};

// Copies the runner's script (mode 0700 in a directory the job user cannot read) into the job's
// stage directory, replacing the previous stage's. Returns that directory.
std::string copy_gitlab_stage_script(const GitlabStateRoot& root, const std::string& job_id,
                                     const std::string& script);

// Cleanup: stops a stage still running (SIGTERM to the lock holder, SIGKILL after `grace`), then
// removes the job's directory. Returns false when there was nothing to remove.
bool remove_gitlab_job(const GitlabStateRoot& root, const std::string& job_id, std::chrono::milliseconds grace);

}  // namespace jobcell
