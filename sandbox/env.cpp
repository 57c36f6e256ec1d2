#include "sandbox/env.hpp"

#include <algorithm>

namespace jobcell {

EnvList parse_environ(const char* const* envp) {
    EnvList env;
    for (; envp != nullptr && *envp != nullptr; ++envp) {
        std::string_view entry(*envp);
        auto eq = entry.find('=');
        if (eq == std::string_view::npos) continue;
        env.emplace_back(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
    }
    return env;
}

bool env_pattern_matches(std::string_view pattern, std::string_view name) {
    if (!pattern.empty() && pattern.back() == '*') {
        pattern.remove_suffix(1);
        return name.substr(0, pattern.size()) == pattern;
    }
    return pattern == name;
}

void env_set(EnvList& env, std::string_view name, std::string_view value) {
    for (auto& [key, val] : env) {
        if (key == name) {
            val = value;
            return;
        }
    }
    env.emplace_back(std::string(name), std::string(value));
}

const std::string* env_get(const EnvList& env, std::string_view name) {
    for (const auto& [key, val] : env)
        if (key == name) return &val;
    return nullptr;
}

EnvList base_job_env(const JobUser& user) {
    return {
        {"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
        {"HOME", user.home},
        {"USER", user.name},
        {"LOGNAME", user.name},
        {"SHELL", "/bin/bash"},
        {"TMPDIR", "/tmp"},
        {"LANG", "C.UTF-8"},
        {"CI", "true"},
    };
}

EnvList build_job_env(const JobUser& user, const EnvList& host, const std::vector<std::string>& pass,
                      const EnvList& set, const std::vector<std::string>& cli) {
    EnvList env = base_job_env(user);
    for (const auto& variable : host) {
        const std::string& name = variable.first;  // (clang 14 cannot capture a structured binding)
        bool passes = std::any_of(pass.begin(), pass.end(),
                                  [&](const std::string& p) { return env_pattern_matches(p, name); });
        if (passes) env_set(env, name, variable.second);
    }
    for (const auto& [name, value] : set) env_set(env, name, value);
    for (const auto& entry : cli) {
        auto eq = entry.find('=');
        if (eq != std::string::npos) {
            env_set(env, entry.substr(0, eq), entry.substr(eq + 1));
        } else if (const std::string* value = env_get(host, entry)) {
            env_set(env, entry, *value);
        }
    }
    return env;
}

bool valid_env_name(std::string_view name) {
    if (name.empty()) return false;
    auto alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
    if (!alpha(name[0])) return false;
    return std::all_of(name.begin(), name.end(),
                       [&](char c) { return alpha(c) || (c >= '0' && c <= '9'); });
}

}  // namespace jobcell
