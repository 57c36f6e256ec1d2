// GitLab custom executor: what config_exec prints for the runner. Pure.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace jobcell {

// {"builds_dir": "/builds", "cache_dir": "/cache", "builds_dir_is_shared": false,
//  "hostname": HOSTNAME, "driver": {"name": "jobcell", "version": VERSION}}
// The dirs are where the cell shows each job's own workspace and its tier's cache; no job ever
// shares either with a job of another tier, so builds_dir_is_shared is false.
nlohmann::json gitlab_config_json(const std::string& version, const std::string& hostname);

}  // namespace jobcell
