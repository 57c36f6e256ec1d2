#include "launcher/gitlab_config.hpp"

#include "launcher/gitlab_stage.hpp"

namespace jobcell {

nlohmann::json gitlab_config_json(const std::string& version, const std::string& hostname) {
    return {
        {"builds_dir", kGitlabBuildsDir},
        {"cache_dir", kGitlabCacheDir},
        {"builds_dir_is_shared", false},
        {"hostname", hostname},
        {"driver", {{"name", "jobcell"}, {"version", version}}},
    };
}

}  // namespace jobcell
