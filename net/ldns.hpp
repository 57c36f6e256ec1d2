#pragma once
// ldns for C++: ldns/common.h defines `bool`, `true` and `false` as macros (`false` becomes the
// int 0), which breaks standard headers parsed after it (<optional>'s `bool(x) <=> false`). Every
// user of ldns includes this header instead, which takes the macros back out.
#include <ldns/ldns.h>

#undef bool
#undef true
#undef false
#undef __bool_true_false_are_defined
