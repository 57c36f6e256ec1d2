// Allow entries are written by hand, in policy files and on the command line, so every refusal
// says what exactly is wrong and, where the intent is plain, what was probably meant. Nothing
// is guessed into a wider allowance: an entry is exactly one of the documented forms or an
// error.
#include "net/allowlist.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "sandbox/error.hpp"

namespace jobcell {
namespace {

constexpr std::size_t kMaxLabel = 63;
constexpr std::size_t kMaxName = 253;

[[noreturn]] void reject(std::string_view text, std::string_view why) {
    std::string message = "allow entry '";
    message += text;
    message += "': ";
    message += why;
    throw Error(message);
}

bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// Why `name` (already lower case, trailing dot dropped) is not a plain host name; "" when it is.
std::string name_problem(std::string_view name) {
    if (name.empty()) return "empty name";
    if (name.size() > kMaxName) {
        return "name is " + std::to_string(name.size()) + " characters long; at most " +
               std::to_string(kMaxName) + " are allowed";
    }
    std::size_t start = 0;
    while (true) {
        const std::size_t dot = name.find('.', start);
        const std::string_view label =
            name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (label.empty()) return "empty label in '" + std::string(name) + "'";
        if (label.size() > kMaxLabel) {
            return "label '" + std::string(label) + "' is " + std::to_string(label.size()) +
                   " characters long; at most " + std::to_string(kMaxLabel) + " are allowed";
        }
        for (char c : label) {
            if (!name_char(c)) {
                return std::string("character '") + c +
                       "' is not allowed in a host name (letters, digits, '-' and '_')";
            }
        }
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    // No top-level domain is all digits; such a "name" is a mistyped IPv4 address ("10.0.0",
    // "256.1.1.1") that the resolver would otherwise be asked about.
    const std::size_t last_dot = name.rfind('.');
    const std::string_view last = last_dot == std::string_view::npos ? name : name.substr(last_dot + 1);
    if (all_digits(last)) return "'" + std::string(name) + "' is neither an IPv4 address nor a host name";
    return "";
}

std::string lower_without_trailing_dot(std::string_view name) {
    std::string out;
    out.reserve(name.size());
    for (char c : name) out += lower(c);
    if (!out.empty() && out.back() == '.') out.pop_back();
    return out;
}

// "443" or "80-90"; the whole text after the ':'.
PortRange parse_ports(std::string_view entry, std::string_view spec) {
    if (spec.empty()) reject(entry, "empty port after ':'");
    const std::size_t dash = spec.find('-');
    const auto one = [&](std::string_view digits) -> std::uint16_t {
        if (!all_digits(digits)) {
            reject(entry, "port '" + std::string(digits) + "' is not a number (expected N or N-M)");
        }
        // Six digits are enough to tell "out of range" without overflowing.
        if (digits.size() > 6) reject(entry, "port " + std::string(digits) + " is out of range 1..65535");
        unsigned value = 0;
        for (char c : digits) value = value * 10 + static_cast<unsigned>(c - '0');
        if (value < 1 || value > 65535) {
            reject(entry, "port " + std::string(digits) + " is out of range 1..65535");
        }
        return static_cast<std::uint16_t>(value);
    };
    if (dash == std::string_view::npos) {
        const std::uint16_t port = one(spec);
        return {port, port};
    }
    const PortRange range{one(spec.substr(0, dash)), one(spec.substr(dash + 1))};
    if (range.last < range.first) {
        reject(entry, "port range " + std::string(spec) + " runs backwards");
    }
    return range;
}

struct Network {
    std::string address;  // canonical text of the network address
    int prefix = 0;
};

// "ADDR" or "ADDR/PREFIX" of one family; nullopt when ADDR is not of that family. Errors in
// the prefix, and host bits, are refused with `entry` in the message.
std::optional<Network> parse_network(std::string_view entry, std::string_view cidr, int family) {
    const int bits = family == AF_INET ? 32 : 128;
    const std::size_t slash = cidr.find('/');
    const std::string address(cidr.substr(0, slash));
    std::array<unsigned char, 16> bytes{};
    if (inet_pton(family, address.c_str(), bytes.data()) != 1) return std::nullopt;
    int prefix = bits;
    if (slash != std::string_view::npos) {
        const std::string_view digits = cidr.substr(slash + 1);
        if (digits.empty()) reject(entry, "empty prefix after '/'");
        if (!all_digits(digits) || digits.size() > 3) {
            reject(entry, "prefix '/" + std::string(digits) + "' is not a number");
        }
        prefix = std::stoi(std::string(digits));
        if (prefix > bits) {
            reject(entry, "prefix /" + std::string(digits) + " is longer than " + std::to_string(bits));
        }
    }
    std::array<unsigned char, 16> network = bytes;
    for (int bit = prefix; bit < bits; ++bit) {
        network[static_cast<std::size_t>(bit / 8)] &= static_cast<unsigned char>(~(0x80U >> (bit % 8)));
    }
    std::array<char, INET6_ADDRSTRLEN> text{};
    inet_ntop(family, network.data(), text.data(), text.size());
    Network out{text.data(), prefix};
    if (network != bytes) {
        const std::string meant = out.address + "/" + std::to_string(prefix);
        const bool bracketed = family == AF_INET6;
        reject(entry, "host bits set in " + std::string(cidr) + "; did you mean " +
                          (bracketed ? "[" + meant + "]" : meant) + "?");
    }
    return out;
}

bool is_ipv6_network(std::string_view text) {
    std::array<unsigned char, 16> bytes{};
    const std::string address(text.substr(0, text.find('/')));
    if (inet_pton(AF_INET6, address.c_str(), bytes.data()) != 1) return false;
    const std::size_t slash = text.find('/');
    return slash == std::string_view::npos || all_digits(text.substr(slash + 1));
}

// Two or more colons outside brackets: an IPv6 address written without them (its colons cannot
// be told from a port's), or a typo.
[[noreturn]] void reject_colons(std::string_view text) {
    if (is_ipv6_network(text)) {
        reject(text, "IPv6 addresses go in brackets: [" + std::string(text) + "] (a port follows the ']': [" +
                         std::string(text) + "]:443)");
    }
    const std::size_t colon = text.rfind(':');
    if (is_ipv6_network(text.substr(0, colon))) {
        reject(text, "IPv6 addresses go in brackets: [" + std::string(text.substr(0, colon)) + "]:" +
                         std::string(text.substr(colon + 1)));
    }
    reject(text, "more than one ':' (expected HOST:PORTS, and IPv6 addresses in brackets: [2001:db8::1]:443)");
}

AllowEntry parse_bracketed(std::string_view text) {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) reject(text, "'[' without a closing ']'");
    const std::string_view inside = text.substr(1, close - 1);
    const std::string_view after = text.substr(close + 1);
    if (inside.empty()) reject(text, "empty address in '[]'");
    AllowEntry entry;
    entry.text = std::string(text);
    if (!after.empty()) {
        if (after[0] != ':') reject(text, "expected ':PORT' or nothing after ']'");
        entry.ports = parse_ports(text, after.substr(1));
    }
    std::array<unsigned char, 4> v4{};
    if (inet_pton(AF_INET, std::string(inside.substr(0, inside.find('/'))).c_str(), v4.data()) == 1) {
        reject(text, "'" + std::string(inside) + "' is an IPv4 address; write it without brackets");
    }
    const std::optional<Network> network = parse_network(text, inside, AF_INET6);
    if (!network) {
        reject(text, "'" + std::string(inside.substr(0, inside.find('/'))) + "' is not an IPv6 address");
    }
    entry.kind = AllowEntry::Kind::cidr6;
    entry.address = network->address;
    entry.prefix = network->prefix;
    return entry;
}

// HOST, *.SUFFIX or an IPv4 CIDR, with the ports already split off.
void parse_unbracketed(std::string_view text, std::string_view target, AllowEntry& entry) {
    if (target.empty()) reject(text, "no host, name or address before the ':'");
    if (const std::optional<Network> network = parse_network(text, target, AF_INET)) {
        entry.kind = AllowEntry::Kind::cidr4;
        entry.address = network->address;
        entry.prefix = network->prefix;
        return;
    }
    if (target.find('/') != std::string_view::npos) {
        reject(text, "'" + std::string(target.substr(0, target.find('/'))) +
                         "' is not an IPv4 address; '/' belongs only in a network such as 203.0.113.0/24 "
                         "(for a name, write the host name alone)");
    }
    std::string name = lower_without_trailing_dot(target);
    if (name == "*") reject(text, "'*' would allow every name; too broad (use --net open instead)");
    entry.kind = AllowEntry::Kind::host;
    if (name.starts_with("*.")) {
        entry.kind = AllowEntry::Kind::suffix;
        name.erase(0, 2);
    }
    if (name.find('*') != std::string::npos) {
        reject(text, "'*' is only allowed as the first label (*.example.com)");
    }
    if (const std::string why = name_problem(name); !why.empty()) reject(text, why);
    if (entry.kind == AllowEntry::Kind::suffix && name.find('.') == std::string::npos) {
        reject(text, "'*." + name + "' would allow every name under a top-level domain; too broad "
                     "(name the domain, *.example." + name + ", or use --net open instead)");
    }
    entry.name = std::move(name);
}

}  // namespace

AllowEntry parse_allow_entry(std::string_view text) {
    if (text.empty()) reject(text, "empty");
    for (char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte <= ' ' || byte >= 0x7f) {
            reject(text, c == ' ' ? "contains a space" : "contains a control or non-ASCII character");
        }
    }
    if (text.find("://") != std::string_view::npos) {
        reject(text, "looks like a URL; write the host name alone, with an optional :PORT "
                     "(example.com:443)");
    }
    if (text.front() == '[') return parse_bracketed(text);
    if (text.find(']') != std::string_view::npos) reject(text, "']' without an opening '['");

    const std::size_t colon = text.find(':');
    if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos) {
        reject_colons(text);
    }
    AllowEntry entry;
    entry.text = std::string(text);
    if (colon != std::string_view::npos) entry.ports = parse_ports(text, text.substr(colon + 1));
    parse_unbracketed(text, text.substr(0, colon), entry);
    return entry;
}

std::vector<AllowEntry> parse_allowlist(const std::vector<std::string>& texts) {
    std::vector<AllowEntry> entries;
    entries.reserve(texts.size());
    for (const std::string& text : texts) entries.push_back(parse_allow_entry(text));
    return entries;
}

std::optional<std::string> normalise_dns_name(std::string_view name) {
    std::string normalised = lower_without_trailing_dot(name);
    if (!name_problem(normalised).empty()) return std::nullopt;
    return normalised;
}

bool entry_matches_name(const AllowEntry& entry, std::string_view normalised_name) {
    switch (entry.kind) {
        case AllowEntry::Kind::host:
            return normalised_name == entry.name;
        case AllowEntry::Kind::suffix:
            // Strictly below the suffix, at a label boundary: "*.example.com" covers
            // "a.example.com" but neither "example.com" nor "badexample.com".
            return normalised_name.size() > entry.name.size() + 1 && normalised_name.ends_with(entry.name) &&
                   normalised_name[normalised_name.size() - entry.name.size() - 1] == '.';
        case AllowEntry::Kind::cidr4:
        case AllowEntry::Kind::cidr6:
            return false;
    }
    return false;
}

}  // namespace jobcell
