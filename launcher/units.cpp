#include "launcher/units.hpp"

#include <array>
#include <cstdint>
#include <limits>
#include <optional>

#include "sandbox/error.hpp"

namespace jobcell {
namespace {

constexpr std::string_view duration_hint = "expected a duration such as 90s, 10m or 1h30m";
constexpr std::string_view size_hint = "expected a size such as 512M or 2G";

[[noreturn]] void reject(std::string_view text, std::string_view why) {
    std::string message = "'";
    message += text;
    message += "': ";
    message += why;
    throw Error(message);
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Reads a run of decimal digits at the front of `rest` and consumes it. nullopt when there are
// no digits or the number does not fit in 64 bits; `digits` reports how many were read.
std::optional<std::uint64_t> take_number(std::string_view& rest, std::size_t& digits) {
    std::uint64_t value = 0;
    digits = 0;
    bool overflow = false;
    while (digits < rest.size() && is_digit(rest[digits])) {
        const auto digit = static_cast<std::uint64_t>(rest[digits] - '0');
        overflow = overflow || __builtin_mul_overflow(value, 10U, &value) ||
                   __builtin_add_overflow(value, digit, &value);
        ++digits;
    }
    rest.remove_prefix(digits);
    if (overflow) return std::nullopt;
    return value;
}

// --- durations --------------------------------------------------------------------------

struct DurationUnit {
    std::string_view suffix;
    std::uint64_t millis;
    int rank;  // a duration names its units largest first, each at most once
};

// "ms" comes before "m" so that "250ms" is not read as 250 minutes followed by junk. The rank
// rule refuses "30m1h", almost certainly a typo, instead of silently meaning 90 minutes.
constexpr std::array<DurationUnit, 4> duration_units{{
    {"h", 3'600'000, 0},
    {"ms", 1, 3},
    {"m", 60'000, 1},
    {"s", 1'000, 2},
}};

std::optional<DurationUnit> take_duration_unit(std::string_view& rest) {
    for (const auto& unit : duration_units) {
        if (rest.starts_with(unit.suffix)) {
            rest.remove_prefix(unit.suffix.size());
            return unit;
        }
    }
    return std::nullopt;
}

// --- sizes ------------------------------------------------------------------------------

// K/M/G/T (any case), optionally followed by "i" and/or "B": 512M, 512MB, 512MiB, 64k. Also a
// plain "B". All are powers of 1024: memory limits are never meant in powers of 1000.
std::optional<std::uint64_t> size_multiplier(std::string_view unit) {
    if (unit.empty() || unit == "B" || unit == "b") return 1;
    std::uint64_t multiplier = 0;
    switch (unit.front()) {
        case 'k':
        case 'K':
            multiplier = std::uint64_t{1} << 10;
            break;
        case 'm':
        case 'M':
            multiplier = std::uint64_t{1} << 20;
            break;
        case 'g':
        case 'G':
            multiplier = std::uint64_t{1} << 30;
            break;
        case 't':
        case 'T':
            multiplier = std::uint64_t{1} << 40;
            break;
        default:
            return std::nullopt;
    }
    unit.remove_prefix(1);
    if (unit.starts_with('i')) unit.remove_prefix(1);
    if (unit.empty() || unit == "B" || unit == "b") return multiplier;
    return std::nullopt;
}

// Decimal places of a fractional size, scaled: "5" -> {5, 10}, "25" -> {25, 100}.
struct Fraction {
    std::uint64_t numerator = 0;
    std::uint64_t denominator = 1;
};

std::optional<Fraction> take_fraction(std::string_view& rest) {
    if (!rest.starts_with('.')) return Fraction{};
    rest.remove_prefix(1);
    Fraction fraction;
    std::size_t digits = 0;
    while (digits < rest.size() && is_digit(rest[digits])) {
        // More than 6 places is noise, and the limit keeps numerator * 2^40 within 64 bits.
        if (digits == 6) return std::nullopt;
        fraction.numerator = fraction.numerator * 10 + static_cast<std::uint64_t>(rest[digits] - '0');
        fraction.denominator *= 10;
        ++digits;
    }
    rest.remove_prefix(digits);
    if (digits == 0) return std::nullopt;
    return fraction;
}

// --- formatting -------------------------------------------------------------------------

// "1.5", "1.25", "2": at most two decimals, trailing zeros dropped.
std::string format_scaled(std::uint64_t bytes, std::uint64_t unit) {
    std::uint64_t whole = bytes / unit;
    std::uint64_t cents = ((bytes % unit) * 100 + unit / 2) / unit;
    if (cents == 100) {
        ++whole;
        cents = 0;
    }
    std::string text = std::to_string(whole);
    if (cents != 0) {
        text += '.';
        text += static_cast<char>('0' + cents / 10);
        if (cents % 10 != 0) text += static_cast<char>('0' + cents % 10);
    }
    return text;
}

}  // namespace

std::chrono::milliseconds parse_duration(std::string_view text) {
    if (text.starts_with('-')) reject(text, "a duration cannot be negative");
    // A bare 0 is unambiguous ("no timeout"); any other bare number is not.
    if (text == "0") return std::chrono::milliseconds{0};
    std::string_view rest = text;
    std::uint64_t total = 0;
    int last_rank = -1;
    do {
        std::size_t digits = 0;
        const auto count = take_number(rest, digits);
        if (digits == 0) reject(text, duration_hint);
        const auto unit = take_duration_unit(rest);
        if (!unit) reject(text, duration_hint);
        if (unit->rank <= last_rank) {
            reject(text, "units must go from largest to smallest, each once (such as 1h30m)");
        }
        last_rank = unit->rank;
        std::uint64_t part = 0;
        if (!count || __builtin_mul_overflow(*count, unit->millis, &part) ||
            __builtin_add_overflow(total, part, &total) ||
            total > static_cast<std::uint64_t>(std::numeric_limits<std::chrono::milliseconds::rep>::max())) {
            reject(text, "duration too large");
        }
    } while (!rest.empty());
    return std::chrono::milliseconds{static_cast<std::chrono::milliseconds::rep>(total)};
}

std::uint64_t parse_size(std::string_view text) {
    if (text.starts_with('-')) reject(text, "a size cannot be negative");
    std::string_view rest = text;
    std::size_t digits = 0;
    const auto whole = take_number(rest, digits);
    if (digits == 0) reject(text, size_hint);
    const auto fraction = take_fraction(rest);
    if (!fraction) reject(text, size_hint);
    // One space is allowed so that what format_size prints ("1.5 GiB") reads back.
    if (rest.starts_with(' ') && rest.size() > 1) rest.remove_prefix(1);
    const auto multiplier = size_multiplier(rest);
    if (!multiplier) reject(text, size_hint);
    // A fraction of a byte means nothing.
    if (*multiplier == 1 && fraction->denominator != 1) reject(text, size_hint);
    std::uint64_t bytes = 0;
    if (!whole || __builtin_mul_overflow(*whole, *multiplier, &bytes) ||
        __builtin_add_overflow(bytes, fraction->numerator * *multiplier / fraction->denominator, &bytes)) {
        reject(text, "size too large");
    }
    return bytes;
}

std::string format_size(std::uint64_t bytes) {
    struct Unit {
        std::uint64_t bytes;
        std::string_view name;
    };
    constexpr std::array<Unit, 4> units{{
        {std::uint64_t{1} << 40, "TiB"},
        {std::uint64_t{1} << 30, "GiB"},
        {std::uint64_t{1} << 20, "MiB"},
        {std::uint64_t{1} << 10, "KiB"},
    }};
    // Four-digit byte counts read fine as they are ("4096 B"); from 10 KiB on, a unit helps.
    if (bytes < 10 * 1024) return std::to_string(bytes) + " B";
    for (const auto& unit : units) {
        if (bytes >= unit.bytes) return format_scaled(bytes, unit.bytes) + " " + std::string(unit.name);
    }
    return std::to_string(bytes) + " B";  // not reached: bytes >= 10 KiB
}

std::string format_duration(std::chrono::milliseconds d) {
    const auto count = d.count();
    std::string text = count < 0 ? "-" : "";
    // Through unsigned so that the most negative value has a magnitude.
    std::uint64_t left =
        count < 0 ? std::uint64_t{0} - static_cast<std::uint64_t>(count) : static_cast<std::uint64_t>(count);
    if (left == 0) return "0s";
    struct Part {
        std::uint64_t millis;
        std::string_view suffix;
    };
    constexpr std::array<Part, 4> parts{{{3'600'000, "h"}, {60'000, "m"}, {1'000, "s"}, {1, "ms"}}};
    for (const auto& part : parts) {
        if (left >= part.millis) {
            text += std::to_string(left / part.millis);
            text += part.suffix;
            left %= part.millis;
        }
    }
    return text;
}

}  // namespace jobcell
