// toml++, as jobcell uses it. The one place that includes it.
#pragma once

// toml++ 3.3 asserts (debug builds) or, under clang's optimiser, *assumes* (__builtin_assume)
// things about its input inside parse_key() that malformed input breaks: "[\n" aborts a debug
// build (found by tests/fuzz/fuzz_policy.cpp). Its own error path handles that input correctly,
// so the assertions are switched off; the assume only exists with clang's -O builds, and
// jobcell's release builds use GCC, where TOML_ASSUME is a no-op.
#ifndef TOML_ASSERT
#define TOML_ASSERT(expr) static_cast<void>(0)
#endif
#include <toml++/toml.h>
