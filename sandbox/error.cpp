#include "sandbox/error.hpp"

#include <cerrno>
#include <cstring>

namespace jobcell {

std::string errno_text(int err) {
    const char* name = strerrorname_np(err);
    std::string text = name != nullptr ? name : "errno " + std::to_string(err);
    text += " (";
    text += std::strerror(err);
    text += ")";
    return text;
}

void throw_errno(std::string_view context) { throw_errno(context, errno); }

void throw_errno(std::string_view context, int err) {
    throw Error(std::string(context) + ": " + errno_text(err));
}

}  // namespace jobcell
