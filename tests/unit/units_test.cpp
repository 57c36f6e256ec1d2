#include "launcher/units.hpp"

#include <cstdint>
#include <limits>
#include <string>

#include <catch2/catch.hpp>

#include "sandbox/error.hpp"

using namespace std::chrono_literals;
using Catch::Matchers::Equals;
using jobcell::Error;
using jobcell::format_duration;
using jobcell::format_size;
using jobcell::parse_duration;
using jobcell::parse_size;

namespace {
constexpr std::uint64_t KiB = std::uint64_t{1} << 10;
constexpr std::uint64_t MiB = std::uint64_t{1} << 20;
constexpr std::uint64_t GiB = std::uint64_t{1} << 30;
constexpr std::uint64_t TiB = std::uint64_t{1} << 40;

const std::string duration_hint = "expected a duration such as 90s, 10m or 1h30m";
const std::string size_hint = "expected a size such as 512M or 2G";
}  // namespace

TEST_CASE("durations in every unit and combination", "[units]") {
    CHECK(parse_duration("90s") == 90s);
    CHECK(parse_duration("10m") == 10min);
    CHECK(parse_duration("2h") == 2h);
    CHECK(parse_duration("250ms") == 250ms);
    CHECK(parse_duration("1h30m") == 90min);
    CHECK(parse_duration("1h30m15s") == 1h + 30min + 15s);
    CHECK(parse_duration("1s500ms") == 1500ms);
    CHECK(parse_duration("1h250ms") == 1h + 250ms);
    CHECK(parse_duration("90m") == 90min);  // no carrying required
    CHECK(parse_duration("0s") == 0ms);
    CHECK(parse_duration("0") == 0ms);  // "none" needs no unit
    CHECK(parse_duration("007s") == 7s);
}

TEST_CASE("a duration without a unit or with an unknown unit is refused", "[units]") {
    CHECK_THROWS_WITH(parse_duration("90"), "'90': " + duration_hint);
    CHECK_THROWS_WITH(parse_duration("1h30"), "'1h30': " + duration_hint);
    CHECK_THROWS_WITH(parse_duration(""), "'': " + duration_hint);
    CHECK_THROWS_WITH(parse_duration("5x"), "'5x': " + duration_hint);
    CHECK_THROWS_WITH(parse_duration("5d"), "'5d': " + duration_hint);
    CHECK_THROWS_WITH(parse_duration("10M"), "'10M': " + duration_hint);  // M is a size
    CHECK_THROWS_WITH(parse_duration("1.5h"), "'1.5h': " + duration_hint);
    CHECK_THROWS_WITH(parse_duration("h"), "'h': " + duration_hint);
    CHECK_THROWS_WITH(parse_duration("ms"), "'ms': " + duration_hint);
    CHECK_THROWS_WITH(parse_duration(" 90s"), "' 90s': " + duration_hint);
    CHECK_THROWS_WITH(parse_duration("90s "), "'90s ': " + duration_hint);
    CHECK_THROWS_WITH(parse_duration("1h 30m"), "'1h 30m': " + duration_hint);
    CHECK_THROWS_WITH(parse_duration("+5s"), "'+5s': " + duration_hint);
    CHECK_THROWS_AS(parse_duration("5mss"), Error);
}

TEST_CASE("a negative duration is refused", "[units]") {
    CHECK_THROWS_WITH(parse_duration("-5s"), "'-5s': a duration cannot be negative");
    CHECK_THROWS_WITH(parse_duration("-0"), "'-0': a duration cannot be negative");
}

TEST_CASE("duration units go largest first, each once", "[units]") {
    const std::string order = "units must go from largest to smallest, each once (such as 1h30m)";
    CHECK_THROWS_WITH(parse_duration("30m1h"), "'30m1h': " + order);
    CHECK_THROWS_WITH(parse_duration("1h1h"), "'1h1h': " + order);
    CHECK_THROWS_WITH(parse_duration("500ms1s"), "'500ms1s': " + order);
}

TEST_CASE("a duration that does not fit is refused, not wrapped", "[units]") {
    CHECK_THROWS_WITH(parse_duration("99999999999999999999s"), "'99999999999999999999s': duration too large");
    CHECK_THROWS_WITH(parse_duration("9223372036854776h"), "'9223372036854776h': duration too large");
    CHECK_THROWS_WITH(parse_duration("9223372036854775807ms1ms"), Catch::Contains("units must go"));
    CHECK_THROWS_WITH(parse_duration("2562047788015h59m"), "'2562047788015h59m': duration too large");
    CHECK(parse_duration("9223372036854775807ms").count() == std::numeric_limits<std::int64_t>::max());
}

TEST_CASE("sizes with and without suffixes", "[units]") {
    CHECK(parse_size("4096") == 4096);
    CHECK(parse_size("0") == 0);
    CHECK(parse_size("64K") == 64 * KiB);
    CHECK(parse_size("64k") == 64 * KiB);
    CHECK(parse_size("512M") == 512 * MiB);
    CHECK(parse_size("2G") == 2 * GiB);
    CHECK(parse_size("1T") == TiB);
    CHECK(parse_size("4096B") == 4096);
}

TEST_CASE("MB and MiB both mean powers of 1024", "[units]") {
    CHECK(parse_size("512MiB") == 512 * MiB);
    CHECK(parse_size("512MB") == 512 * MiB);
    CHECK(parse_size("512Mi") == 512 * MiB);
    CHECK(parse_size("2GiB") == 2 * GiB);
    CHECK(parse_size("2gb") == 2 * GiB);
    CHECK(parse_size("1KiB") == KiB);
    CHECK(parse_size("1TiB") == TiB);
}

TEST_CASE("decimal sizes", "[units]") {
    CHECK(parse_size("1.5G") == GiB + GiB / 2);
    CHECK(parse_size("0.5M") == MiB / 2);
    CHECK(parse_size("1.25GiB") == GiB + GiB / 4);
    CHECK(parse_size("2.0G") == 2 * GiB);
    CHECK(parse_size("0.1K") == 102);  // a fraction of a byte is dropped
    CHECK(parse_size("1.000001T") == TiB + TiB / 1'000'000);
}

TEST_CASE("what format_size prints reads back", "[units]") {
    CHECK(parse_size("256 MiB") == 256 * MiB);
    CHECK(parse_size("1.5 GiB") == GiB + GiB / 2);
    CHECK(parse_size("4096 B") == 4096);
    for (const std::uint64_t bytes : {4096 * KiB, 256 * MiB, 3 * GiB / 2, 2 * TiB, std::uint64_t{4096}}) {
        CHECK(parse_size(format_size(bytes)) == bytes);
    }
}

TEST_CASE("malformed sizes are refused with what was expected", "[units]") {
    for (const char* text :
         {"12x", "",     "G",   "M512", "1.5",  "1.5B", ".5G",   "1.G", "1..5G", "1.5.5G",     "0x10",
          "1e9", "2 G ", " 2G", "2G ",  "2  G", "+2G",  "2GiBs", "2iB", "2P",    "1.0000001G", "1,5G"}) {
        CAPTURE(text);
        CHECK_THROWS_WITH(parse_size(text), "'" + std::string(text) + "': " + size_hint);
    }
}

TEST_CASE("a negative size is refused", "[units]") {
    CHECK_THROWS_WITH(parse_size("-1G"), "'-1G': a size cannot be negative");
    CHECK_THROWS_WITH(parse_size("-0"), "'-0': a size cannot be negative");
}

TEST_CASE("a size that does not fit in 64 bits is refused, not wrapped", "[units]") {
    CHECK_THROWS_WITH(parse_size("18446744073709551616"), "'18446744073709551616': size too large");
    CHECK_THROWS_WITH(parse_size("16777216T"), "'16777216T': size too large");
    CHECK_THROWS_WITH(parse_size("16777215.9999999T"), Catch::Contains("expected a size"));
    CHECK_THROWS_WITH(parse_size("17179869184G"), "'17179869184G': size too large");
    CHECK(parse_size("18446744073709551615") == std::numeric_limits<std::uint64_t>::max());
    CHECK(parse_size("16777215T") == 16777215 * TiB);
    CHECK(parse_size("16777215.999999T") == 16777215 * TiB + 999'999 * TiB / 1'000'000);
}

TEST_CASE("format_size picks the largest unit, decimals only when needed", "[units]") {
    CHECK_THAT(format_size(0), Equals("0 B"));
    CHECK_THAT(format_size(1), Equals("1 B"));
    CHECK_THAT(format_size(4096), Equals("4096 B"));
    CHECK_THAT(format_size(10 * KiB - 1), Equals("10239 B"));
    CHECK_THAT(format_size(64 * KiB), Equals("64 KiB"));
    CHECK_THAT(format_size(256 * MiB), Equals("256 MiB"));
    CHECK_THAT(format_size(2 * GiB), Equals("2 GiB"));
    CHECK_THAT(format_size(GiB + GiB / 2), Equals("1.5 GiB"));
    CHECK_THAT(format_size(GiB + GiB / 4), Equals("1.25 GiB"));
    CHECK_THAT(format_size(TiB), Equals("1 TiB"));
    CHECK_THAT(format_size(1536 * GiB), Equals("1.5 TiB"));
    CHECK_THAT(format_size(MiB - 1), Equals("1024 KiB"));  // rounds to two decimals
    CHECK_THAT(format_size(std::numeric_limits<std::uint64_t>::max()), Equals("16777216 TiB"));
}

TEST_CASE("format_duration names each non-zero unit, largest first", "[units]") {
    CHECK_THAT(format_duration(0ms), Equals("0s"));
    CHECK_THAT(format_duration(90min), Equals("1h30m"));
    CHECK_THAT(format_duration(90s), Equals("1m30s"));
    CHECK_THAT(format_duration(250ms), Equals("250ms"));
    CHECK_THAT(format_duration(2h), Equals("2h"));
    CHECK_THAT(format_duration(1h + 30min + 15s), Equals("1h30m15s"));
    CHECK_THAT(format_duration(1h + 5s), Equals("1h5s"));
    CHECK_THAT(format_duration(1500ms), Equals("1s500ms"));
    CHECK_THAT(format_duration(48h), Equals("48h"));
    CHECK_THAT(format_duration(-90s), Equals("-1m30s"));
    CHECK_FALSE(format_duration(std::chrono::milliseconds::min()).empty());
}

TEST_CASE("what format_duration prints reads back", "[units]") {
    for (const std::chrono::milliseconds d :
         {0ms, 250ms, 1500ms, 90'000ms, 600'000ms, 5'400'000ms, 7'200'000ms,
          std::chrono::milliseconds{1h + 30min + 15s + 1ms}}) {
        CHECK(parse_duration(format_duration(d)) == d);
    }
}
