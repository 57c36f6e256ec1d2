// One error type for everything jobcell itself gets wrong (exit 125). Each layer adds context
// on the way up ("mount /usr -> /newroot/usr: EPERM (Operation not permitted)") and main()
// is the one place that prints it.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace jobcell {

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// "EPERM (Operation not permitted)" for an errno value.
std::string errno_text(int err);

// Throws Error("<context>: <errno_text(errno)>").
[[noreturn]] void throw_errno(std::string_view context);
[[noreturn]] void throw_errno(std::string_view context, int err);

}  // namespace jobcell
