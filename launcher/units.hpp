// Durations ("90s", "10m", "1h30m", "250ms") and sizes ("512M", "2G", "64k", "1048576").
// Pure. Errors are Error with a message that says what was expected.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace jobcell {

std::chrono::milliseconds parse_duration(std::string_view text);
std::uint64_t parse_size(std::string_view text);  // bytes; suffixes K M G T are powers of 1024
std::string format_size(std::uint64_t bytes);       // "256 MiB", "1.5 GiB", "4096 B"
std::string format_duration(std::chrono::milliseconds d);  // "1h30m", "90s" -> "1m30s", "250ms"

}  // namespace jobcell
