// Reads the policy TOML into Policy values. Every value is checked where it is read, and every
// complaint names the file, line and column of the offending key or value, so an operator
// fixing a policy never has to guess which of three similar tiers is meant.
#include "launcher/policy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "launcher/toml.hpp"

#include "launcher/facts.hpp"
#include "launcher/rules.hpp"
#include "launcher/units.hpp"
#include "net/address_pool.hpp"
#include "net/allowlist.hpp"
#include "sandbox/error.hpp"

namespace jobcell {
namespace {

constexpr std::string_view system_policy_path = "/etc/jobcell/policy.toml";
constexpr std::string_view builtin_source = "<built-in policy>";

// The kernel's PID_MAX_LIMIT: no pid limit above it can mean anything.
constexpr std::int64_t max_pids = 4'194'304;
constexpr double max_cpus = 1024;
// Root mode maps the cell's ids 0..65535 to id_base..id_base+65535; the last must stay below
// (uid_t)-1, which the kernel reserves as "no id".
constexpr std::int64_t max_id_base = std::int64_t{UINT32_MAX} - 65'536;

// --- positions and messages --------------------------------------------------------------

std::string location(std::string_view source, toml::source_position pos) {
    return std::string(source) + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column);
}

// toml++ quotes what it saw verbatim, and a TOML string may hold "\n": an error message stays
// on one line all the same.
std::string one_line(std::string_view text) {
    std::string line;
    for (const char c : text) {
        if (c == '\n') {
            line += "\\n";
        } else if (c == '\r') {
            line += "\\r";
        } else {
            line += c;
        }
    }
    return line;
}

[[noreturn]] void fail_at(std::string_view source, toml::source_position pos, std::string_view message) {
    throw Error(location(source, pos) + ": " + one_line(message));
}

// One value being read: where it came from and the dotted key path used in messages.
struct Field {
    std::string_view source;
    const toml::node& node;
    std::string path;  // "tiers.untrusted.pids"

    [[noreturn]] void fail(std::string_view what) const {
        fail_at(source, node.source().begin, path + ": " + std::string(what));
    }
    [[noreturn]] void fail(const toml::node& at, std::string_view what) const {
        fail_at(source, at.source().begin, path + ": " + std::string(what));
    }
};

std::string join(const std::vector<std::string_view>& names) {
    std::string text;
    for (const auto name : names) {
        if (!text.empty()) text += ", ";
        text += name;
    }
    return text;
}

std::string join(const std::vector<std::string>& names) {
    return join(std::vector<std::string_view>(names.begin(), names.end()));
}

// --- syntax errors -----------------------------------------------------------------------

// Where a construct that the end of the file cut short was opened.
struct Opener {
    toml::source_position pos;
    std::string_view token;
};

// A just-enough TOML lexer: it follows strings, comments and brackets to find what is still
// open at the end of the file. toml++ reports such errors at the end of the file, which may be
// many lines after the line the operator has to fix.
class OpenerScanner {
public:
    explicit OpenerScanner(std::string_view text) : text_(text) {}

    std::optional<Opener> outermost_unclosed() {
        while (i_ < text_.size()) {
            if (auto opener = step()) return outermost(*opener);
        }
        if (!stack_.empty()) return stack_.front();
        return std::nullopt;
    }

private:
    // Returns an opener only for a string that the end of the file cut short.
    std::optional<Opener> step() {
        const char c = text_[i_];
        if (c == '#') {
            while (i_ < text_.size() && text_[i_] != '\n') advance();
        } else if (rest().starts_with("\"\"\"") || rest().starts_with("'''")) {
            return skip_string(rest().substr(0, 3), true);
        } else if (c == '"' || c == '\'') {
            return skip_string(rest().substr(0, 1), false);
        } else if (c == '[' || c == '{') {
            stack_.push_back({here(), rest().substr(0, 1)});
            advance();
        } else {
            if ((c == ']' || c == '}') && !stack_.empty()) stack_.pop_back();
            advance();
        }
        return std::nullopt;
    }

    std::optional<Opener> skip_string(std::string_view quote, bool multiline) {
        const Opener opener{here(), quote};
        const bool escapes = quote.front() == '"';
        advance(quote.size());
        while (i_ < text_.size()) {
            if (escapes && text_[i_] == '\\') {
                advance(2);
            } else if (rest().starts_with(quote)) {
                // A multi-line string may end in up to two extra quotes: """a""""" is 'a""'.
                const std::size_t run = std::min(rest().find_first_not_of(quote.front()), rest().size());
                advance(multiline ? std::min<std::size_t>(run, 5) : 1);
                return std::nullopt;
            } else if (!multiline && text_[i_] == '\n') {
                return std::nullopt;  // toml++ reports this one on the right line already
            } else {
                advance();
            }
        }
        return opener;
    }

    Opener outermost(const Opener& innermost) const { return stack_.empty() ? innermost : stack_.front(); }

    std::string_view rest() const { return text_.substr(i_); }
    toml::source_position here() const { return {line_, column_}; }

    // Columns count code points, as toml++'s do: UTF-8 continuation bytes do not move them.
    void advance(std::size_t count = 1) {
        for (; count > 0 && i_ < text_.size(); --count, ++i_) {
            const auto byte = static_cast<unsigned char>(text_[i_]);
            if (byte == '\n') {
                ++line_;
                column_ = 1;
            } else if ((byte & 0xC0U) != 0x80U) {
                ++column_;
            }
        }
    }

    std::string_view text_;
    std::size_t i_ = 0;
    toml::source_index line_ = 1;
    toml::source_index column_ = 1;
    std::vector<Opener> stack_;
};

[[noreturn]] void fail_syntax(std::string_view source, std::string_view text,
                              const toml::parse_error& error) {
    const std::string description(error.description());
    if (description.find("end-of-file") != std::string::npos) {
        if (const auto opener = OpenerScanner(text).outermost_unclosed()) {
            fail_at(source, opener->pos,
                    description + " (the " + std::string(opener->token) + " opened here is never closed)");
        }
    }
    fail_at(source, error.source().begin, description);
}

// --- scalar readers ----------------------------------------------------------------------

std::string read_string(const Field& field) {
    const auto* value = field.node.as_string();
    if (value == nullptr) field.fail("expected a string");
    return value->get();
}

std::int64_t read_integer(const Field& field, std::int64_t min, std::int64_t max,
                          std::string_view note = {}) {
    const auto* value = field.node.as_integer();
    if (value == nullptr) field.fail("expected an integer");
    const std::int64_t number = value->get();
    if (number < min || number > max) {
        std::string what = "expected " + std::to_string(min) + " to " + std::to_string(max);
        what += note;
        field.fail(what + ", got " + std::to_string(number));
    }
    return number;
}

bool read_bool(const Field& field) {
    const auto* value = field.node.as_boolean();
    if (value == nullptr) field.fail("expected true or false");
    return value->get();
}

std::uint64_t read_count(const Field& field, std::int64_t max = INT64_MAX) {
    return static_cast<std::uint64_t>(read_integer(field, 0, max, " (0: no limit)"));
}

// A size is a string for units.cpp ("512M") or an integer number of bytes.
std::uint64_t read_size(const Field& field) {
    if (field.node.is_integer()) return static_cast<std::uint64_t>(read_integer(field, 0, INT64_MAX));
    if (!field.node.is_string()) field.fail("expected a size such as \"512M\" or an integer number of bytes");
    try {
        return parse_size(read_string(field));
    } catch (const Error& e) {
        field.fail(e.what());
    }
}

// A duration is a string for units.cpp ("90s"); a bare 0 reads naturally as "none".
std::chrono::milliseconds read_duration(const Field& field) {
    if (field.node.is_integer()) {
        if (field.node.as_integer()->get() == 0) return std::chrono::milliseconds{0};
        field.fail("expected a duration such as \"90s\", \"10m\" or \"1h30m\" (an integer has no unit)");
    }
    if (!field.node.is_string()) field.fail("expected a duration such as \"90s\", \"10m\" or \"1h30m\"");
    try {
        return parse_duration(read_string(field));
    } catch (const Error& e) {
        field.fail(e.what());
    }
}

double read_cpus(const Field& field) {
    double cpus = 0;
    if (const auto* integer = field.node.as_integer()) {
        cpus = static_cast<double>(integer->get());
    } else if (const auto* floating = field.node.as_floating_point()) {
        cpus = floating->get();
    } else {
        field.fail("expected a number");
    }
    // Written so that NaN fails too.
    if (!(cpus >= 0 && cpus <= max_cpus)) field.fail("expected 0 (no limit) to 1024 cores");
    return cpus;
}

template <typename Check>
std::vector<std::string> read_strings(const Field& field, Check&& check) {
    const auto* array = field.node.as_array();
    if (array == nullptr) field.fail("expected an array of strings");
    std::vector<std::string> strings;
    for (const auto& element : *array) {
        const auto* value = element.as_string();
        if (value == nullptr) field.fail(element, "expected an array of strings");
        if (const auto problem = check(value->get()))
            field.fail(element, "'" + value->get() + "': " + *problem);
        strings.push_back(value->get());
    }
    return strings;
}

// --- what a value may look like -----------------------------------------------------------

using Problem = std::optional<std::string>;

Problem allow_entry_problem(std::string_view entry) {
    try {
        parse_allow_entry(entry);
        return std::nullopt;
    } catch (const Error& e) {
        // "allow entry 'X': why" -> "why": the reader already names the entry.
        std::string_view message = e.what();
        const std::string prefix = "allow entry '" + std::string(entry) + "': ";
        if (message.substr(0, prefix.size()) == prefix) message.remove_prefix(prefix.size());
        return std::string(message);
    }
}

Problem ip_address_problem(std::string_view text) {
    unsigned char buf[16];
    const std::string address(text);
    if (::inet_pton(AF_INET, address.c_str(), buf) == 1 || ::inet_pton(AF_INET6, address.c_str(), buf) == 1)
        return std::nullopt;
    return "expected an IPv4 or IPv6 address";
}

bool is_env_name(std::string_view name) {
    const auto head = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
    const auto tail = [&](char c) { return head(c) || (c >= '0' && c <= '9'); };
    return !name.empty() && head(name.front()) && std::all_of(name.begin() + 1, name.end(), tail);
}

Problem env_pattern_problem(std::string_view pattern) {
    if (pattern == "*") return "would pass the whole host environment; name a prefix such as CI_*";
    if (pattern.ends_with('*')) pattern.remove_suffix(1);
    if (is_env_name(pattern)) return std::nullopt;
    return "expected a variable name, or a prefix ending in '*' such as CI_*";
}

bool has_dot_dot(std::string_view path) {
    std::size_t start = 0;
    while (start <= path.size()) {
        const std::size_t end = std::min(path.find('/', start), path.size());
        if (path.substr(start, end - start) == "..") return true;
        start = end + 1;
    }
    return false;
}

// Paths end up in mount targets and the generated /etc/passwd: no '..', no ':' or newlines.
bool is_plain_path(std::string_view path) {
    return !path.empty() && !has_dot_dot(path) && path.find_first_of(":\n") == std::string_view::npos;
}

Problem absolute_path_problem(std::string_view path) {
    if (path.starts_with('/') && is_plain_path(path)) return std::nullopt;
    return "expected an absolute path without '..', such as /usr";
}

Problem etc_entry_problem(std::string_view path) {
    if (!path.starts_with('/') && is_plain_path(path)) return std::nullopt;
    return "expected a path relative to /etc without '..', such as ssl/certs";
}

// The user name goes into the generated /etc/passwd and /etc/group.
bool is_user_name(std::string_view name) {
    const auto head = [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; };
    const auto tail = [&](char c) { return head(c) || (c >= '0' && c <= '9') || c == '-'; };
    return !name.empty() && name.size() <= 32 && head(name.front()) &&
           std::all_of(name.begin() + 1, name.end(), tail);
}

// sethostname() takes at most 64 bytes; the name also lands in /etc/hosts.
bool is_host_name(std::string_view name) {
    const auto ok = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
               c == '.';
    };
    return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), ok) &&
           !name.starts_with('-') && !name.starts_with('.');
}

// Tier names are typed on the command line and written to audit logs.
Problem tier_name_problem(std::string_view name) {
    const auto ok = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
               c == '_';
    };
    if (name.empty()) return "a tier name must not be empty";
    if (name == "auto") return "reserved: --tier auto means \"choose by the job's metadata\"";
    if (!std::all_of(name.begin(), name.end(), ok))
        return "a tier name has only letters, digits, '-' and '_'";
    return std::nullopt;
}

// Rule names appear in explain output and audit records, beside "forced: ..." and
// "fallback (no rule matched)", which no rule name can be mistaken for.
Problem rule_name_problem(std::string_view name) {
    const auto ok = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
               c == '_';
    };
    if (name.empty()) return "a rule name must not be empty";
    if (!std::all_of(name.begin(), name.end(), ok))
        return "a rule name has only letters, digits, '-' and '_'";
    return std::nullopt;
}

// The SCM is asked with the operator's token, so never over plain http, except to a test server
// on this machine.
Problem url_problem(std::string_view url) {
    const auto control = [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; };
    if (std::any_of(url.begin(), url.end(), control)) return "a URL has no spaces or control characters";
    std::string_view rest;
    if (url.starts_with("https://")) {
        rest = url.substr(8);
    } else {
        for (const std::string_view local : {"http://127.0.0.1", "http://localhost"}) {
            if (url.starts_with(local) &&
                (url.size() == local.size() || url[local.size()] == ':' || url[local.size()] == '/')) {
                rest = url.substr(7);
            }
        }
        if (rest.empty())
            return "expected an https:// URL (http:// only to 127.0.0.1 or localhost, for tests)";
    }
    const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    if (authority.find('@') != std::string_view::npos)
        return "a URL must not carry user:password@ (the token comes from token_file)";
    if (authority.empty() || authority.starts_with(':')) return "the URL names no host";
    return std::nullopt;
}

// --- tables ------------------------------------------------------------------------------

template <typename Target>
struct KeyReader {
    std::string_view key;
    void (*read)(const Field&, Target&);
};

// Reads every key of `table` with its reader; a key without one is an error, so a typo such as
// "memroy" never silently leaves a limit at its default.
template <typename Target, std::size_t N>
void read_table(std::string_view source, const toml::table& table, std::string_view prefix,
                std::string_view where, const std::array<KeyReader<Target>, N>& readers, Target& target) {
    for (const auto& [key, node] : table) {
        // Not captured as `key`: clang before 16 cannot capture a structured binding (fuzz builds).
        const std::string_view name = key.str();
        const auto reader =
            std::find_if(readers.begin(), readers.end(), [&](const auto& r) { return r.key == name; });
        if (reader == readers.end()) {
            std::vector<std::string_view> known;
            for (const auto& r : readers) known.push_back(r.key);
            fail_at(source, key.source().begin,
                    "unknown key '" + std::string(key.str()) + "' " + std::string(where) +
                        " (known keys: " + join(known) + ")");
        }
        reader->read(Field{source, node, std::string(prefix) + std::string(key.str())}, target);
    }
}

const toml::table& as_table(const Field& field) {
    const auto* table = field.node.as_table();
    if (table == nullptr) field.fail("expected a table");
    return *table;
}

std::vector<std::pair<std::string, std::string>> read_env_set(const Field& field) {
    const auto& table = as_table(field);
    std::vector<std::pair<const toml::key*, const toml::node*>> entries;
    for (const auto& [key, node] : table) entries.emplace_back(&key, &node);
    // toml++ keeps keys sorted; the job should see them in the order the operator wrote them.
    std::sort(entries.begin(), entries.end(),
              [](const auto& a, const auto& b) { return a.first->source().begin < b.first->source().begin; });
    std::vector<std::pair<std::string, std::string>> env;
    for (const auto& [key, node] : entries) {
        if (!is_env_name(key->str())) {
            fail_at(field.source, key->source().begin,
                    field.path + ": '" + std::string(key->str()) +
                        "': expected a variable name such as JOBCELL_TIER");
        }
        env.emplace_back(key->str(),
                         read_string(Field{field.source, *node, field.path + "." + std::string(key->str())}));
    }
    return env;
}

const std::array<KeyReader<CellPolicy>, 8> cell_readers{{
    {"system_dirs",
     [](const Field& f, CellPolicy& c) { c.system_dirs = read_strings(f, absolute_path_problem); }},
    {"host_etc", [](const Field& f, CellPolicy& c) { c.host_etc = read_strings(f, etc_entry_problem); }},
    {"user",
     [](const Field& f, CellPolicy& c) {
         c.user.name = read_string(f);
         if (!is_user_name(c.user.name))
             f.fail("expected a user name such as job (lower case, digits, '_', '-')");
     }},
    {"uid",
     [](const Field& f, CellPolicy& c) {
         if (f.node.is_integer() && f.node.as_integer()->get() == 0)
             f.fail("must not be 0: a job never runs as root");
         c.user.uid = static_cast<std::uint32_t>(read_integer(f, 1, 65'535));
     }},
    {"gid",
     [](const Field& f, CellPolicy& c) {
         c.user.gid = static_cast<std::uint32_t>(read_integer(f, 0, 65'535));
     }},
    {"home",
     [](const Field& f, CellPolicy& c) {
         c.user.home = read_string(f);
         if (const auto problem = absolute_path_problem(c.user.home)) f.fail(*problem);
     }},
    {"id_base",
     [](const Field& f, CellPolicy& c) {
         if (f.node.is_integer() && f.node.as_integer()->get() == 0) {
             f.fail("must not be 0: the cell's root would be host root");
         }
         c.id_base = static_cast<std::uint32_t>(
             read_integer(f, 1, max_id_base, " (id_base + 65536 must fit in 32 bits)"));
     }},
    {"hostname",
     [](const Field& f, CellPolicy& c) {
         c.hostname = read_string(f);
         if (!is_host_name(c.hostname))
             f.fail("expected a host name of up to 64 letters, digits, '-' and '.'");
     }},
}};

const std::array<KeyReader<TierPolicy>, 14> tier_readers{{
    {"description", [](const Field& f, TierPolicy& t) { t.description = read_string(f); }},
    {"timeout", [](const Field& f, TierPolicy& t) { t.limits.timeout = read_duration(f); }},
    {"kill_grace", [](const Field& f, TierPolicy& t) { t.limits.kill_grace = read_duration(f); }},
    {"memory", [](const Field& f, TierPolicy& t) { t.limits.memory_bytes = read_size(f); }},
    {"pids", [](const Field& f, TierPolicy& t) { t.limits.pids = read_count(f, max_pids); }},
    {"cpus", [](const Field& f, TierPolicy& t) { t.limits.cpus = read_cpus(f); }},
    {"tmpfs_size", [](const Field& f, TierPolicy& t) { t.limits.tmpfs_bytes = read_size(f); }},
    {"tmpfs_inodes", [](const Field& f, TierPolicy& t) { t.limits.tmpfs_inodes = read_count(f); }},
    {"network",
     [](const Field& f, TierPolicy& t) {
         t.network = read_string(f);
         if (t.network != "none" && t.network != "allowlist" && t.network != "open") {
             f.fail("'" + t.network + "': expected one of none, allowlist, open");
         }
     }},
    {"allow", [](const Field& f, TierPolicy& t) { t.allow = read_strings(f, allow_entry_problem); }},
    {"env_pass", [](const Field& f, TierPolicy& t) { t.env_pass = read_strings(f, env_pattern_problem); }},
    {"env_set", [](const Field& f, TierPolicy& t) { t.env_set = read_env_set(f); }},
    {"seccomp",
     [](const Field& f, TierPolicy& t) {
         t.seccomp = read_string(f);
         if (t.seccomp != "default")
             f.fail("'" + t.seccomp + "': unknown seccomp profile (known profiles: default)");
     }},
    {"gitlab_runner_stage_network",
     [](const Field& f, TierPolicy& t) {
         t.gitlab_runner_stage_network = read_string(f);
         const auto& v = t.gitlab_runner_stage_network;
         if (v != "gitlab" && v != "tier" && v != "none") f.fail("'" + v + "': expected one of gitlab, tier, none");
     }},
}};

TierPolicy read_tier(std::string_view source, const toml::key& name, const toml::node& node) {
    if (const auto problem = tier_name_problem(name.str())) {
        fail_at(source, name.source().begin, "tiers: '" + std::string(name.str()) + "': " + *problem);
    }
    const std::string path = "tiers." + std::string(name.str());
    const auto& table = as_table(Field{source, node, path});
    TierPolicy tier;
    tier.name = name.str();
    read_table(source, table, path + ".", "in [" + path + "]", tier_readers, tier);
    // As on the command line (--allow without --net allowlist): a list that would do nothing is
    // a mistake about what the tier reaches, not something to ignore.
    if (!tier.allow.empty() && tier.network != "allowlist") {
        fail_at(source, table.get("allow")->source().begin,
                path + ".allow: the tier's network is \"" + tier.network +
                    "\", which has no allowlist; set network = \"allowlist\" or remove allow");
    }
    return tier;
}

std::map<std::string, TierPolicy> read_tiers(const Field& field) {
    const auto& table = as_table(field);
    if (table.empty()) field.fail("no tiers; a policy needs at least one [tiers.NAME] table");
    std::map<std::string, TierPolicy> tiers;
    for (const auto& [name, node] : table) tiers.emplace(name.str(), read_tier(field.source, name, node));
    return tiers;
}

void check_version(std::string_view source, const toml::table& document) {
    const toml::node* version = document.get("version");
    if (version == nullptr) fail_at(source, {1, 1}, "version: missing; a policy begins with version = 1");
    read_integer(Field{source, *version, "version"}, 1, 1, " (the only policy format this jobcell reads)");
}

// --- trust rules -------------------------------------------------------------------------

// A tier named by a rule or by fallback_tier. Checked once the whole document is read: toml++
// hands keys over sorted, so [tiers] is read after fallback_tier and [[rules]].
struct TierReference {
    std::string name;
    toml::source_position pos;
    std::string path;  // "rules[0].tier"
};

// What the top level reads into: the policy and what can only be checked at the end.
struct PolicyReading {
    Policy policy;
    std::vector<TierReference> rule_tiers;
    std::optional<TierReference> fallback;  // set when fallback_tier is written
    std::optional<toml::source_position> rules_pos;
};

bool is_bool_fact(std::string_view fact) {
    return fact == "ref_protected" || fact == "change_request" || fact == "fork" || fact == "approved";
}

// Facts with a closed set of values: a misspelt one would make a negated condition hold for
// every job ("not FIRST_TIMR"), so it is refused here.
std::vector<std::string_view> known_values(std::string_view fact) {
    if (fact == "ci") return {"gitlab", "github", "generic"};
    if (fact == "ref_type") return {"branch", "tag"};
    if (fact == "author_association") {
        return {"OWNER",       "MEMBER", "COLLABORATOR", "CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR",
                "FIRST_TIMER", "NONE",   "MANNEQUIN"};
    }
    return {};
}

FactValue read_fact_value(const Field& field, const std::string& fact) {
    if (is_bool_fact(fact)) {
        const auto* value = field.node.as_boolean();
        if (value == nullptr) field.fail("expected true or false (" + fact + " is a true/false fact)");
        return value->get();
    }
    const auto* value = field.node.as_string();
    if (value == nullptr) field.fail("expected a string (" + fact + " is a text fact)");
    const auto known = known_values(fact);
    if (!known.empty() && std::find(known.begin(), known.end(), value->get()) == known.end()) {
        field.fail("'" + value->get() + "': not a value of " + fact + " (known values: " + join(known) + ")");
    }
    return value->get();
}

// One value, or a non-empty array of them.
std::vector<FactValue> read_fact_values(const Field& field, const std::string& fact) {
    const auto* array = field.node.as_array();
    if (array == nullptr) return {read_fact_value(field, fact)};
    if (array->empty()) field.fail("an empty list matches nothing; list at least one value");
    std::vector<FactValue> values;
    for (const auto& element : *array)
        values.push_back(read_fact_value(Field{field.source, element, field.path}, fact));
    return values;
}

// VALUE, [VALUE, ...] or { not = VALUE or [VALUE, ...] }.
RuleCondition read_condition(const Field& field, const std::string& fact) {
    RuleCondition condition;
    condition.fact = fact;
    const auto* table = field.node.as_table();
    if (table == nullptr) {
        condition.any_of = read_fact_values(field, fact);
        return condition;
    }
    if (table->empty()) field.fail("expected a value, a list of values, or { not = ... }");
    for (const auto& [key, node] : *table) {
        if (key.str() != "not") {
            fail_at(field.source, key.source().begin,
                    "unknown key '" + std::string(key.str()) + "' in " + field.path + " (known keys: not)");
        }
        condition.negated = true;
        condition.any_of = read_fact_values(Field{field.source, node, field.path + ".not"}, fact);
    }
    return condition;
}

std::vector<RuleCondition> read_when(const Field& field) {
    const auto& table = as_table(field);
    std::vector<std::pair<const toml::key*, const toml::node*>> entries;
    for (const auto& [key, node] : table) entries.emplace_back(&key, &node);
    // toml++ keeps keys sorted; explain shows the conditions in the order the operator wrote them.
    std::sort(entries.begin(), entries.end(),
              [](const auto& a, const auto& b) { return a.first->source().begin < b.first->source().begin; });
    std::vector<RuleCondition> conditions;
    for (const auto& [key, node] : entries) {
        const std::string fact(key->str());
        const std::string path = field.path + "." + fact;
        if (!is_fact_name(fact)) {
            fail_at(field.source, key->source().begin,
                    path + ": unknown fact '" + fact + "' (known facts: " + join(kFactNames) + ")");
        }
        conditions.push_back(read_condition(Field{field.source, *node, path}, fact));
    }
    return conditions;
}

struct RuleReading {
    Rule rule;
    bool has_name = false;
    bool has_when = false;
    std::optional<toml::source_position> tier_pos;
};

const std::array<KeyReader<RuleReading>, 4> rule_readers{{
    {"name",
     [](const Field& f, RuleReading& r) {
         r.rule.name = read_string(f);
         if (const auto problem = rule_name_problem(r.rule.name))
             f.fail("'" + r.rule.name + "': " + *problem);
         r.has_name = true;
     }},
    {"tier",
     [](const Field& f, RuleReading& r) {
         r.rule.tier = read_string(f);
         r.tier_pos = f.node.source().begin;
     }},
    {"description", [](const Field& f, RuleReading& r) { r.rule.description = read_string(f); }},
    {"when",
     [](const Field& f, RuleReading& r) {
         r.rule.conditions = read_when(f);
         r.has_when = true;
     }},
}};

void read_rules(const Field& field, PolicyReading& reading) {
    const auto* array = field.node.as_array();
    if (array == nullptr) field.fail("expected an array of tables, written [[rules]]");
    reading.rules_pos = field.node.source().begin;
    std::map<std::string, std::size_t> names;  // name -> index of the rule that has it
    for (std::size_t index = 0; index < array->size(); ++index) {
        const toml::node& node = *array->get(index);
        const std::string path = "rules[" + std::to_string(index) + "]";
        const Field rule_field{field.source, node, path};
        const auto* table = node.as_table();
        if (table == nullptr) rule_field.fail("expected a table with name, tier and when");
        RuleReading rule;
        read_table(field.source, *table, path + ".", "in " + path, rule_readers, rule);
        // A rule is explicit about what it is and when it applies: `when = {}` matches every job,
        // a forgotten `when` does not.
        if (!rule.has_name) rule_field.fail("missing name; every rule has a unique name");
        if (!rule.tier_pos) rule_field.fail("missing tier; a rule selects a tier");
        if (!rule.has_when)
            rule_field.fail("missing when; write when = {} for a rule that matches every job");
        if (const auto [other, added] = names.emplace(rule.rule.name, index); !added) {
            fail_at(field.source, table->get("name")->source().begin,
                    path + ".name: '" + rule.rule.name + "' is already the name of rules[" +
                        std::to_string(other->second) + "]");
        }
        reading.rule_tiers.push_back({rule.rule.tier, *rule.tier_pos, path + ".tier"});
        reading.policy.rules.push_back(std::move(rule.rule));
    }
}

const std::array<KeyReader<ScmVerifyPolicy>, 5> verify_readers{{
    {"enabled", [](const Field& f, ScmVerifyPolicy& v) { v.enabled = read_bool(f); }},
    {"gitlab_url",
     [](const Field& f, ScmVerifyPolicy& v) {
         v.gitlab_url = read_string(f);
         if (const auto problem = url_problem(v.gitlab_url)) f.fail("'" + v.gitlab_url + "': " + *problem);
     }},
    {"github_api_url",
     [](const Field& f, ScmVerifyPolicy& v) {
         v.github_api_url = read_string(f);
         if (const auto problem = url_problem(v.github_api_url))
             f.fail("'" + v.github_api_url + "': " + *problem);
     }},
    {"token_file",
     [](const Field& f, ScmVerifyPolicy& v) {
         v.token_file = read_string(f);
         if (const auto problem = absolute_path_problem(v.token_file))
             f.fail("'" + v.token_file + "': " + *problem);
     }},
    {"timeout",
     [](const Field& f, ScmVerifyPolicy& v) {
         v.timeout = read_duration(f);
         if (v.timeout.count() == 0)
             f.fail("must be more than 0: a request without a timeout could hang the job");
     }},
}};

const std::array<KeyReader<NetworkPlumbing>, 3> network_readers{{
    {"pool4",
     [](const Field& f, NetworkPlumbing& n) {
         n.pool4 = read_string(f);
         if (auto problem = pool_problem(n.pool4, false); !problem.empty()) f.fail("'" + n.pool4 + "': " + problem);
     }},
    {"pool6",
     [](const Field& f, NetworkPlumbing& n) {
         n.pool6 = read_string(f);
         if (auto problem = pool_problem(n.pool6, true); !problem.empty()) f.fail("'" + n.pool6 + "': " + problem);
     }},
    {"resolvers", [](const Field& f, NetworkPlumbing& n) { n.resolvers = read_strings(f, ip_address_problem); }},
}};

ScmVerifyPolicy read_verify(const Field& field) {
    ScmVerifyPolicy verify;
    read_table(field.source, as_table(field), "verify.", "in [verify]", verify_readers, verify);
    if (verify.enabled && verify.token_file.empty())
        field.fail("enabled without token_file; the SCM is asked with the operator's token, never the job's");
    return verify;
}

std::vector<std::string_view> tier_names(const Policy& policy) {
    std::vector<std::string_view> names;
    for (const auto& [name, unused] : policy.tiers) names.push_back(name);
    return names;
}

// Every tier a rule or fallback_tier names exists. The default fallback "untrusted" must exist
// only when there are rules: a policy of tiers alone still serves --tier NAME.
void check_tier_references(std::string_view source, const PolicyReading& reading) {
    const Policy& policy = reading.policy;
    const std::string known = " (known tiers: " + join(tier_names(policy)) + ")";
    if (reading.fallback) {
        if (policy.tiers.count(reading.fallback->name) == 0)
            fail_at(source, reading.fallback->pos,
                    "fallback_tier: unknown tier '" + reading.fallback->name + "'" + known);
    } else if (!policy.rules.empty() && policy.tiers.count(policy.fallback_tier) == 0) {
        fail_at(source, reading.rules_pos.value_or(toml::source_position{1, 1}),
                "fallback_tier: missing, and the default '" + policy.fallback_tier +
                    "' is not a tier of this policy" + known + "; name the tier for jobs no rule matches");
    }
    for (const auto& reference : reading.rule_tiers) {
        if (policy.tiers.count(reference.name) == 0)
            fail_at(source, reference.pos,
                    reference.path + ": unknown tier '" + reference.name + "'" + known);
    }
}

// --- files -------------------------------------------------------------------------------

std::string read_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_errno(path + ": cannot read");
    std::string text;
    char buffer[65536];
    for (;;) {
        const ssize_t got = ::read(fd, buffer, sizeof buffer);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            const int err = errno;
            ::close(fd);
            throw_errno(path + ": cannot read", err);
        }
        if (got == 0) break;
        text.append(buffer, static_cast<std::size_t>(got));
    }
    ::close(fd);
    return text;
}

}  // namespace

const TierPolicy& Policy::tier(std::string_view name) const {
    const auto found = tiers.find(std::string(name));
    if (found != tiers.end()) return found->second;
    std::vector<std::string_view> known;
    for (const auto& [known_name, unused] : tiers) known.push_back(known_name);
    throw Error("unknown tier '" + std::string(name) + "' (policy " + source + " has: " + join(known) + ")");
}

// toml++ 3.3 reaches __builtin_unreachable() (undefined behaviour) on some non-ASCII text
// (U+028D, found by tests/fuzz/fuzz_policy.cpp), so it never sees any: a policy is ASCII.
void require_ascii(std::string_view source, std::string_view text) {
    toml::source_index line = 1, column = 1;
    for (char c : text) {
        if (static_cast<unsigned char>(c) >= 0x80)
            fail_at(source, {line, column}, "non-ASCII character: a policy file is plain ASCII");
        if (c == '\n') {
            ++line;
            column = 1;
        } else {
            ++column;
        }
    }
}

Policy parse_policy(std::string_view text, std::string_view source_name) {
    require_ascii(source_name, text);
    toml::table document;
    try {
        document = toml::parse(text, std::string(source_name));
    } catch (const toml::parse_error& error) {
        fail_syntax(source_name, text, error);
    }
    check_version(source_name, document);
    PolicyReading reading;
    reading.policy.source = source_name;
    const std::array<KeyReader<PolicyReading>, 7> top_readers{{
        {"version", [](const Field&, PolicyReading&) {}},  // checked first, by check_version
        {"cell",
         [](const Field& f, PolicyReading& r) {
             read_table(f.source, as_table(f), "cell.", "in [cell]", cell_readers, r.policy.cell);
         }},
        {"tiers", [](const Field& f, PolicyReading& r) { r.policy.tiers = read_tiers(f); }},
        {"fallback_tier",
         [](const Field& f, PolicyReading& r) {
             r.policy.fallback_tier = read_string(f);
             r.fallback = TierReference{r.policy.fallback_tier, f.node.source().begin, "fallback_tier"};
         }},
        {"rules", [](const Field& f, PolicyReading& r) { read_rules(f, r); }},
        {"verify", [](const Field& f, PolicyReading& r) { r.policy.verify = read_verify(f); }},
        {"network",
         [](const Field& f, PolicyReading& r) {
             read_table(f.source, as_table(f), "network.", "in [network]", network_readers, r.policy.network);
         }},
    }};
    read_table(source_name, document, "", "at the top level", top_readers, reading);
    if (reading.policy.tiers.empty())
        fail_at(source_name, {1, 1}, "no tiers; a policy needs at least one [tiers.NAME] table");
    check_tier_references(source_name, reading);
    return std::move(reading.policy);
}

Policy load_policy(const std::optional<std::string>& path, std::string_view system_path) {
    if (path) return parse_policy(read_file(*path), *path);
    // A policy file that exists but cannot be read is an error, not a reason to fall back.
    struct stat info {};
    if (::stat(std::string(system_path).c_str(), &info) == 0 || errno != ENOENT) {
        const std::string system(system_path);
        return parse_policy(read_file(system), system);
    }
    return parse_policy(builtin_policy_text(), builtin_source);
}

Policy load_policy(const std::optional<std::string>& path) {
    return load_policy(path, system_policy_path);
}

}  // namespace jobcell
