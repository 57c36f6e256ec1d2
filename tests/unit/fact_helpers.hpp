// Small helpers the metadata, facts and verification tests share.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "launcher/facts.hpp"
#include "launcher/metadata.hpp"

namespace jobcell::testing {

// A FileReader over in-memory files: what the adapters read, without a filesystem.
inline FileReader fake_reader(std::map<std::string, std::string> files) {
    return [files = std::move(files)](const std::string& path, std::string& error) -> std::optional<std::string> {
        const auto found = files.find(path);
        if (found == files.end()) {
            error = "ENOENT (No such file or directory)";
            return std::nullopt;
        }
        return found->second;
    };
}

// The fact is usable (trusted, uncontradicted) and has this value.
inline bool usable_is(const Facts& facts, const std::string& name, const FactValue& value) {
    const Fact* fact = facts.usable(name);
    return fact != nullptr && fact->value == value;
}

inline bool has_warning(const Facts& facts, const std::string& text) {
    for (const auto& warning : facts.warnings)
        if (warning.find(text) != std::string::npos) return true;
    return false;
}

}  // namespace jobcell::testing
