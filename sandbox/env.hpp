// The job's environment is built, never inherited: a fixed base, the host variables the tier
// lets through, the tier's own settings, then --env. Pure.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sandbox/spec.hpp"

namespace jobcell {

using EnvList = std::vector<std::pair<std::string, std::string>>;

EnvList parse_environ(const char* const* envp);

// "NAME" matches exactly; "PREFIX*" matches names starting with PREFIX.
bool env_pattern_matches(std::string_view pattern, std::string_view name);

// Sets name=value, replacing an earlier value of the same name in place.
void env_set(EnvList& env, std::string_view name, std::string_view value);
const std::string* env_get(const EnvList& env, std::string_view name);

// The variables every job gets (PATH, HOME, USER, LOGNAME, SHELL, TMPDIR, LANG, CI=true).
EnvList base_job_env(const JobUser& user);

// base, then host variables matching `pass`, then `set`, then `cli` entries ("NAME=VALUE", or
// "NAME" to copy from the host; a NAME the host lacks is left out).
EnvList build_job_env(const JobUser& user, const EnvList& host, const std::vector<std::string>& pass,
                      const EnvList& set, const std::vector<std::string>& cli);

// Valid POSIX-ish variable name: [A-Za-z_][A-Za-z0-9_]*.
bool valid_env_name(std::string_view name);

}  // namespace jobcell
