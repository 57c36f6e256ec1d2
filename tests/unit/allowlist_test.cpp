// Allow entries as an operator writes them: each accepted form with what it means, and each
// mistake with the exact message it gets (the message is the interface: it must say what is
// wrong and, where the intent is plain, what was meant). Then the name matching the DNS
// forwarder relies on, where "*.example.com" must not cover example.com or badexample.com.
#include "net/allowlist.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "sandbox/error.hpp"

using jobcell::AllowEntry;
using jobcell::entry_matches_name;
using jobcell::normalise_dns_name;
using jobcell::parse_allow_entry;
using jobcell::parse_allowlist;
using jobcell::PortRange;
using Kind = jobcell::AllowEntry::Kind;

namespace {

// The message parse_allow_entry throws for `text`, or "accepted".
std::string refusal(const std::string& text) {
    try {
        parse_allow_entry(text);
    } catch (const jobcell::Error& e) {
        return e.what();
    }
    return "accepted";
}

std::string why(const std::string& text, const std::string& reason) {
    return "allow entry '" + text + "': " + reason;
}

AllowEntry name_entry(const std::string& text) {
    return parse_allow_entry(text);
}

}  // namespace

// --- accepted forms ---------------------------------------------------------------------------

TEST_CASE("a host name is lower-cased, loses its trailing dot and keeps what was written", "[allowlist]") {
    const AllowEntry e = parse_allow_entry("GitLab.Example.COM.");
    CHECK(e.kind == Kind::host);
    CHECK(e.name == "gitlab.example.com");
    CHECK(!e.ports);
    CHECK(e.text == "GitLab.Example.COM.");
    CHECK(e.address.empty());
}

TEST_CASE("a host name with one port or a port range", "[allowlist]") {
    const AllowEntry one = parse_allow_entry("gitlab.example.com:443");
    CHECK(one.kind == Kind::host);
    CHECK(one.name == "gitlab.example.com");
    CHECK(one.ports == PortRange{443, 443});

    const AllowEntry range = parse_allow_entry("objects.example.com:8000-8100");
    CHECK(range.ports == PortRange{8000, 8100});
    CHECK(parse_allow_entry("a.example:1").ports == PortRange{1, 1});
    CHECK(parse_allow_entry("a.example:65535").ports == PortRange{65535, 65535});
    CHECK(parse_allow_entry("a.example:80-80").ports == PortRange{80, 80});
}

TEST_CASE("names may carry digits, hyphens and underscores, and be a single label", "[allowlist]") {
    CHECK(parse_allow_entry("_acme-challenge.example-1.com").name == "_acme-challenge.example-1.com");
    CHECK(parse_allow_entry("registry").name == "registry");
    CHECK(parse_allow_entry("1password.com").name == "1password.com");
}

TEST_CASE("a wildcard entry keeps the suffix after '*.'", "[allowlist]") {
    const AllowEntry e = parse_allow_entry("*.Debian.org:80");
    CHECK(e.kind == Kind::suffix);
    CHECK(e.name == "debian.org");
    CHECK(e.ports == PortRange{80, 80});
    CHECK(parse_allow_entry("*.deb.debian.org.").name == "deb.debian.org");
}

TEST_CASE("an IPv4 network, with and without ports", "[allowlist]") {
    const AllowEntry e = parse_allow_entry("203.0.113.0/24:443");
    CHECK(e.kind == Kind::cidr4);
    CHECK(e.address == "203.0.113.0");
    CHECK(e.prefix == 24);
    CHECK(e.ports == PortRange{443, 443});
    CHECK(e.name.empty());

    const AllowEntry all = parse_allow_entry("0.0.0.0/0:443");
    CHECK(all.address == "0.0.0.0");
    CHECK(all.prefix == 0);
}

TEST_CASE("a bare IPv4 address is a /32", "[allowlist]") {
    const AllowEntry e = parse_allow_entry("198.51.100.7");
    CHECK(e.kind == Kind::cidr4);
    CHECK(e.address == "198.51.100.7");
    CHECK(e.prefix == 32);
    CHECK(!e.ports);
    CHECK(parse_allow_entry("198.51.100.7/32:22").ports == PortRange{22, 22});
}

TEST_CASE("an IPv6 network in brackets, written back canonically", "[allowlist]") {
    const AllowEntry e = parse_allow_entry("[2001:DB8:0:0::/32]:443");
    CHECK(e.kind == Kind::cidr6);
    CHECK(e.address == "2001:db8::");
    CHECK(e.prefix == 32);
    CHECK(e.ports == PortRange{443, 443});

    const AllowEntry host = parse_allow_entry("[2001:db8::1]");
    CHECK(host.address == "2001:db8::1");
    CHECK(host.prefix == 128);
    CHECK(!host.ports);
}

TEST_CASE("a list parses in order; an empty list is fine", "[allowlist]") {
    const auto entries = parse_allowlist({"a.example.com", "10.0.0.0/8", "[::1]:53"});
    REQUIRE(entries.size() == 3);
    CHECK(entries[0].kind == Kind::host);
    CHECK(entries[1].kind == Kind::cidr4);
    CHECK(entries[2].kind == Kind::cidr6);
    CHECK(parse_allowlist({}).empty());
}

TEST_CASE("a list names the one bad entry", "[allowlist]") {
    REQUIRE_THROWS_WITH(parse_allowlist({"a.example.com", "b.example.com:0"}),
                        why("b.example.com:0", "port 0 is out of range 1..65535"));
}

// --- ports ------------------------------------------------------------------------------------

TEST_CASE("ports out of range, backwards, missing or not numbers", "[allowlist]") {
    CHECK(refusal("a.example:0") == why("a.example:0", "port 0 is out of range 1..65535"));
    CHECK(refusal("a.example:65536") == why("a.example:65536", "port 65536 is out of range 1..65535"));
    CHECK(refusal("a.example:99999999999999999999") ==
          why("a.example:99999999999999999999", "port 99999999999999999999 is out of range 1..65535"));
    CHECK(refusal("a.example:90-80") == why("a.example:90-80", "port range 90-80 runs backwards"));
    CHECK(refusal("a.example:") == why("a.example:", "empty port after ':'"));
    CHECK(refusal("a.example:https") ==
          why("a.example:https", "port 'https' is not a number (expected N or N-M)"));
    CHECK(refusal("a.example:80-") == why("a.example:80-", "port '' is not a number (expected N or N-M)"));
    CHECK(refusal("a.example:-80") == why("a.example:-80", "port '' is not a number (expected N or N-M)"));
    CHECK(refusal("a.example:+80") == why("a.example:+80", "port '+80' is not a number (expected N or N-M)"));
    CHECK(refusal("a.example:80-90-100") ==
          why("a.example:80-90-100", "port '90-100' is not a number (expected N or N-M)"));
    CHECK(refusal("a.example:0-80") == why("a.example:0-80", "port 0 is out of range 1..65535"));
    CHECK(refusal("[2001:db8::1]:0") == why("[2001:db8::1]:0", "port 0 is out of range 1..65535"));
    CHECK(refusal("10.0.0.0/8:70000") == why("10.0.0.0/8:70000", "port 70000 is out of range 1..65535"));
}

// --- addresses --------------------------------------------------------------------------------

TEST_CASE("host bits in a network are refused with the network that was meant", "[allowlist]") {
    CHECK(refusal("203.0.113.1/24") ==
          why("203.0.113.1/24", "host bits set in 203.0.113.1/24; did you mean 203.0.113.0/24?"));
    CHECK(refusal("10.1.2.3/8:443") == why("10.1.2.3/8:443", "host bits set in 10.1.2.3/8; did you mean 10.0.0.0/8?"));
    CHECK(refusal("[2001:db8::1/32]:443") ==
          why("[2001:db8::1/32]:443", "host bits set in 2001:db8::1/32; did you mean [2001:db8::/32]?"));
}

TEST_CASE("prefixes longer than the address, empty or not numbers", "[allowlist]") {
    CHECK(refusal("203.0.113.0/33") == why("203.0.113.0/33", "prefix /33 is longer than 32"));
    CHECK(refusal("[2001:db8::/129]") == why("[2001:db8::/129]", "prefix /129 is longer than 128"));
    CHECK(refusal("203.0.113.0/") == why("203.0.113.0/", "empty prefix after '/'"));
    CHECK(refusal("203.0.113.0/x") == why("203.0.113.0/x", "prefix '/x' is not a number"));
    CHECK(refusal("203.0.113.0/-1") == why("203.0.113.0/-1", "prefix '/-1' is not a number"));
    CHECK(refusal("203.0.113.0/0024") == why("203.0.113.0/0024", "prefix '/0024' is not a number"));
}

TEST_CASE("IPv6 without brackets is refused with the bracketed form", "[allowlist]") {
    CHECK(refusal("2001:db8::/32:443") ==
          why("2001:db8::/32:443", "IPv6 addresses go in brackets: [2001:db8::/32]:443"));
    CHECK(refusal("2001:db8::/32") ==
          why("2001:db8::/32",
              "IPv6 addresses go in brackets: [2001:db8::/32] (a port follows the ']': [2001:db8::/32]:443)"));
    CHECK(refusal("::1") == why("::1", "IPv6 addresses go in brackets: [::1] (a port follows the ']': [::1]:443)"));
    CHECK(refusal("a.example:80:90") ==
          why("a.example:80:90",
              "more than one ':' (expected HOST:PORTS, and IPv6 addresses in brackets: [2001:db8::1]:443)"));
}

TEST_CASE("brackets hold exactly one IPv6 address or network", "[allowlist]") {
    CHECK(refusal("[203.0.113.0/24]") ==
          why("[203.0.113.0/24]", "'203.0.113.0/24' is an IPv4 address; write it without brackets"));
    CHECK(refusal("[example.com]:443") == why("[example.com]:443", "'example.com' is not an IPv6 address"));
    CHECK(refusal("[fe80::1%eth0]") == why("[fe80::1%eth0]", "'fe80::1%eth0' is not an IPv6 address"));
    CHECK(refusal("[2001:db8::1") == why("[2001:db8::1", "'[' without a closing ']'"));
    CHECK(refusal("[]:443") == why("[]:443", "empty address in '[]'"));
    CHECK(refusal("[2001:db8::1]443") == why("[2001:db8::1]443", "expected ':PORT' or nothing after ']'"));
    CHECK(refusal("2001:db8::1]") == why("2001:db8::1]", "']' without an opening '['"));
}

TEST_CASE("numbers that are not IPv4 addresses are not taken for names", "[allowlist]") {
    CHECK(refusal("256.1.1.1") == why("256.1.1.1", "'256.1.1.1' is neither an IPv4 address nor a host name"));
    CHECK(refusal("10.0.0") == why("10.0.0", "'10.0.0' is neither an IPv4 address nor a host name"));
    CHECK(refusal("010.0.0.1") == why("010.0.0.1", "'010.0.0.1' is neither an IPv4 address nor a host name"));
    CHECK(refusal("8") == why("8", "'8' is neither an IPv4 address nor a host name"));
}

// --- names ------------------------------------------------------------------------------------

TEST_CASE("URLs, paths and spaces are refused", "[allowlist]") {
    CHECK(refusal("http://x") ==
          why("http://x", "looks like a URL; write the host name alone, with an optional :PORT (example.com:443)"));
    CHECK(refusal("https://gitlab.example.com/group") ==
          why("https://gitlab.example.com/group",
              "looks like a URL; write the host name alone, with an optional :PORT (example.com:443)"));
    CHECK(refusal("x/y") ==
          why("x/y",
              "'x' is not an IPv4 address; '/' belongs only in a network such as 203.0.113.0/24 (for a name, "
              "write the host name alone)"));
    CHECK(refusal("gitlab.example.com ") == why("gitlab.example.com ", "contains a space"));
    CHECK(refusal(" gitlab.example.com") == why(" gitlab.example.com", "contains a space"));
    CHECK(refusal("a b") == why("a b", "contains a space"));
    CHECK(refusal("a\tb") == why("a\tb", "contains a control or non-ASCII character"));
    CHECK(refusal("exa\xc3\xa9mple.com") ==
          why("exa\xc3\xa9mple.com", "contains a control or non-ASCII character"));
}

TEST_CASE("empty entries, names and labels are refused", "[allowlist]") {
    CHECK(refusal("") == why("", "empty"));
    CHECK(refusal(":443") == why(":443", "no host, name or address before the ':'"));
    CHECK(refusal(".") == why(".", "empty name"));
    CHECK(refusal("a..b") == why("a..b", "empty label in 'a..b'"));
    CHECK(refusal(".example.com") == why(".example.com", "empty label in '.example.com'"));
    CHECK(refusal("example.com..") == why("example.com..", "empty label in 'example.com.'"));
}

TEST_CASE("characters outside letters, digits, '-' and '_' are refused", "[allowlist]") {
    CHECK(refusal("exa$mple.com") ==
          why("exa$mple.com", "character '$' is not allowed in a host name (letters, digits, '-' and '_')"));
    CHECK(refusal("a;b.com:80") ==
          why("a;b.com:80", "character ';' is not allowed in a host name (letters, digits, '-' and '_')"));
    CHECK(refusal("a\"b") == why("a\"b", "character '\"' is not allowed in a host name (letters, digits, '-' and '_')"));
}

TEST_CASE("labels over 63 and names over 253 characters are refused", "[allowlist]") {
    const std::string label63(63, 'a');
    CHECK(parse_allow_entry(label63 + ".com").name == label63 + ".com");
    const std::string label64(64, 'a');
    CHECK(refusal(label64 + ".com") ==
          why(label64 + ".com", "label '" + label64 + "' is 64 characters long; at most 63 are allowed"));

    // 4 labels of 61 plus 3 dots = 247; "." + 5 more = 253.
    const std::string label61(61, 'b');
    const std::string name253 = label61 + "." + label61 + "." + label61 + "." + label61 + ".ccccc";
    REQUIRE(name253.size() == 253);
    CHECK(parse_allow_entry(name253).name == name253);
    CHECK(parse_allow_entry(name253 + ".").name == name253);
    const std::string name254 = name253 + "c";
    CHECK(refusal(name254) == why(name254, "name is 254 characters long; at most 253 are allowed"));
}

TEST_CASE("'*' only as the whole first label", "[allowlist]") {
    const std::string only_first = "'*' is only allowed as the first label (*.example.com)";
    CHECK(refusal("a.*.example.com") == why("a.*.example.com", only_first));
    CHECK(refusal("*example.com") == why("*example.com", only_first));
    CHECK(refusal("*.*.example.com") == why("*.*.example.com", only_first));
    CHECK(refusal("example.*") == why("example.*", only_first));
    CHECK(refusal("*a.example.com:443") == why("*a.example.com:443", only_first));
}

TEST_CASE("wildcards over everything or a whole top-level domain are too broad", "[allowlist]") {
    CHECK(refusal("*") == why("*", "'*' would allow every name; too broad (use --net open instead)"));
    CHECK(refusal("*.") == why("*.", "'*' would allow every name; too broad (use --net open instead)"));
    CHECK(refusal("*:443") == why("*:443", "'*' would allow every name; too broad (use --net open instead)"));
    CHECK(refusal("*.com") ==
          why("*.com",
              "'*.com' would allow every name under a top-level domain; too broad (name the domain, "
              "*.example.com, or use --net open instead)"));
    CHECK(refusal("*.COM.:443") ==
          why("*.COM.:443",
              "'*.com' would allow every name under a top-level domain; too broad (name the domain, "
              "*.example.com, or use --net open instead)"));
    CHECK(refusal("*..com") == why("*..com", "empty label in '.com'"));
}

// --- normalise_dns_name -----------------------------------------------------------------------

TEST_CASE("DNS names are lower-cased without the trailing dot", "[allowlist]") {
    CHECK(normalise_dns_name("WWW.Example.COM.") == "www.example.com");
    CHECK(normalise_dns_name("www.example.com") == "www.example.com");
    CHECK(normalise_dns_name("_dmarc.example.com") == "_dmarc.example.com");
    CHECK(normalise_dns_name("1.0.0.127.in-addr.arpa") == "1.0.0.127.in-addr.arpa");
}

TEST_CASE("DNS names that are not plain host names are refused", "[allowlist]") {
    CHECK(!normalise_dns_name(""));
    CHECK(!normalise_dns_name("."));
    CHECK(!normalise_dns_name("a..b"));
    CHECK(!normalise_dns_name("a.b.."));
    CHECK(!normalise_dns_name("*.example.com"));
    CHECK(!normalise_dns_name("a b.com"));
    CHECK(!normalise_dns_name(std::string("a\0b.com", 7)));
    CHECK(!normalise_dns_name("exa\xc3\xa9mple.com"));
    CHECK(!normalise_dns_name("a/b.com"));
    CHECK(!normalise_dns_name(std::string(64, 'a') + ".com"));
    CHECK(normalise_dns_name(std::string(63, 'a') + ".com"));
    CHECK(!normalise_dns_name("10.0.0.1"));
}

// --- entry_matches_name -----------------------------------------------------------------------

TEST_CASE("a host entry matches exactly its name", "[allowlist]") {
    const AllowEntry e = name_entry("gitlab.example.com:443");
    CHECK(entry_matches_name(e, "gitlab.example.com"));
    CHECK(!entry_matches_name(e, "a.gitlab.example.com"));
    CHECK(!entry_matches_name(e, "example.com"));
    CHECK(!entry_matches_name(e, "gitlab.example.co"));
    CHECK(!entry_matches_name(e, "xgitlab.example.com"));
}

TEST_CASE("a suffix entry matches names strictly below the suffix, at a label boundary", "[allowlist]") {
    const AllowEntry e = name_entry("*.example.com");
    CHECK(entry_matches_name(e, "a.example.com"));
    CHECK(entry_matches_name(e, "a.b.example.com"));
    CHECK(entry_matches_name(e, "_x.example.com"));
    CHECK(!entry_matches_name(e, "example.com"));
    CHECK(!entry_matches_name(e, "badexample.com"));
    CHECK(!entry_matches_name(e, ".example.com"));
    CHECK(!entry_matches_name(e, "example.com.evil.net"));
    CHECK(!entry_matches_name(e, "com"));
    CHECK(!entry_matches_name(e, ""));
}

TEST_CASE("network entries never match a name, not even one that reads like their address", "[allowlist]") {
    CHECK(!entry_matches_name(parse_allow_entry("198.51.100.7"), "198.51.100.7"));
    CHECK(!entry_matches_name(parse_allow_entry("[2001:db8::1]"), "2001:db8::1"));
}
