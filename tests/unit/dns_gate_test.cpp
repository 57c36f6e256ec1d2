// DnsGate speaks to the attacker's messages: queries and answers are built with ldns the way a
// stub in the cell or a resolver upstream would build them, and the verdicts are checked for
// what leaves the host (nothing, for an unlisted name) and what enters the ruleset.
#include "net/ldns.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "net/dns_gate.hpp"

using namespace jobcell;

namespace {

struct PktFree {
    void operator()(ldns_pkt* p) const noexcept { ldns_pkt_free(p); }
};
struct MallocFree {
    void operator()(void* p) const noexcept { std::free(p); }
};
using Pkt = std::unique_ptr<ldns_pkt, PktFree>;
using Wire = std::vector<std::uint8_t>;

Wire wire_of(const ldns_pkt* pkt) {
    std::uint8_t* raw = nullptr;
    std::size_t size = 0;
    REQUIRE(ldns_pkt2wire(&raw, pkt, &size) == LDNS_STATUS_OK);
    std::unique_ptr<std::uint8_t, MallocFree> owned(raw);
    return {raw, raw + size};
}

Pkt parse(const Wire& wire) {
    ldns_pkt* raw = nullptr;
    REQUIRE(ldns_wire2pkt(&raw, wire.data(), wire.size()) == LDNS_STATUS_OK);
    return Pkt(raw);
}

ldns_rr* rr_from(const std::string& text) {
    ldns_rr* rr = nullptr;
    REQUIRE(ldns_rr_new_frm_str(&rr, text.c_str(), 0, nullptr, nullptr) == LDNS_STATUS_OK);
    return rr;
}

Pkt query_pkt(const std::string& name, ldns_rr_type type, std::uint16_t id = 0x1234,
              ldns_rr_class klass = LDNS_RR_CLASS_IN) {
    ldns_pkt* raw = nullptr;
    REQUIRE(ldns_pkt_query_new_frm_str(&raw, name.c_str(), type, klass, LDNS_RD) == LDNS_STATUS_OK);
    Pkt pkt(raw);
    ldns_pkt_set_id(pkt.get(), id);
    return pkt;
}

Wire query(const std::string& name, ldns_rr_type type = LDNS_RR_TYPE_A, std::uint16_t id = 0x1234) {
    return wire_of(query_pkt(name, type, id).get());
}

// What a resolver would send back for `asked`, with the given records.
struct AnswerSpec {
    std::vector<std::string> answer;
    std::vector<std::string> authority;
    std::vector<std::string> additional;
    ldns_pkt_rcode rcode = LDNS_RCODE_NOERROR;
};

Pkt answer_pkt(const Wire& asked, const AnswerSpec& spec) {
    Pkt q = parse(asked);
    Pkt a(ldns_pkt_new());
    ldns_pkt_set_id(a.get(), ldns_pkt_id(q.get()));
    ldns_pkt_set_qr(a.get(), true);
    ldns_pkt_set_rd(a.get(), true);
    ldns_pkt_set_ra(a.get(), true);
    ldns_pkt_set_rcode(a.get(), spec.rcode);
    ldns_pkt_push_rr(a.get(), LDNS_SECTION_QUESTION,
                     ldns_rr_clone(ldns_rr_list_rr(ldns_pkt_question(q.get()), 0)));
    for (const auto& text : spec.answer) ldns_pkt_push_rr(a.get(), LDNS_SECTION_ANSWER, rr_from(text));
    for (const auto& text : spec.authority)
        ldns_pkt_push_rr(a.get(), LDNS_SECTION_AUTHORITY, rr_from(text));
    for (const auto& text : spec.additional)
        ldns_pkt_push_rr(a.get(), LDNS_SECTION_ADDITIONAL, rr_from(text));
    return a;
}

Wire answer(const Wire& asked, const AnswerSpec& spec) { return wire_of(answer_pkt(asked, spec).get()); }

// "owner TYPE rdata ttl" per record of a section, for readable assertions.
std::vector<std::string> records(const Wire& wire, ldns_pkt_section section) {
    Pkt pkt = parse(wire);
    const ldns_rr_list* list = section == LDNS_SECTION_ANSWER      ? ldns_pkt_answer(pkt.get())
                               : section == LDNS_SECTION_AUTHORITY ? ldns_pkt_authority(pkt.get())
                               : section == LDNS_SECTION_QUESTION  ? ldns_pkt_question(pkt.get())
                                                                   : ldns_pkt_additional(pkt.get());
    std::vector<std::string> out;
    for (std::size_t i = 0; list && i < ldns_rr_list_rr_count(list); ++i) {
        const ldns_rr* rr = ldns_rr_list_rr(list, i);
        std::unique_ptr<char, MallocFree> owner(ldns_rdf2str(ldns_rr_owner(rr)));
        std::string text = std::string(owner.get()) + " " + dns_type_name(ldns_rr_get_type(rr));
        if (section != LDNS_SECTION_QUESTION) {
            std::unique_ptr<char, MallocFree> rdata(ldns_rdf2str(ldns_rr_rdf(rr, 0)));
            text += " " + std::string(rdata.get()) + " " + std::to_string(ldns_rr_ttl(rr));
        }
        out.push_back(text);
    }
    return out;
}

ldns_pkt_rcode rcode_of(const Wire& wire) { return ldns_pkt_get_rcode(parse(wire).get()); }
std::uint16_t id_of(const Wire& wire) { return ldns_pkt_id(parse(wire).get()); }

AllowEntry host_entry(const std::string& name, std::optional<PortRange> ports = std::nullopt) {
    AllowEntry e;
    e.kind = AllowEntry::Kind::host;
    e.name = name;
    e.ports = ports;
    e.text = name;
    return e;
}

AllowEntry suffix_entry(const std::string& suffix, std::optional<PortRange> ports = std::nullopt) {
    AllowEntry e = host_entry(suffix, ports);
    e.kind = AllowEntry::Kind::suffix;
    e.text = "*." + suffix;
    return e;
}

AllowEntry cidr_entry(const std::string& address, int prefix) {
    AllowEntry e;
    e.kind = AllowEntry::Kind::cidr4;
    e.address = address;
    e.prefix = prefix;
    e.text = address + "/" + std::to_string(prefix);
    return e;
}

// Groups: 0 = every port, 1 = port 80, 2 = port 443.
DnsGateConfig test_config() {
    DnsGateConfig config;
    config.entries = {host_entry("example.com"),
                      suffix_entry("debian.org", PortRange{80, 80}),
                      host_entry("example.com", PortRange{443, 443}),
                      cidr_entry("203.0.113.0", 24),
                      host_entry("internal.example.net"),
                      host_entry("pkg.example.net", PortRange{443, 443})};
    config.entry_group = {0, 1, 2, -1, 0, 2};
    config.host_addresses = {"192.0.2.1"};
    config.min_ttl = 30;
    config.max_ttl = 3600;
    return config;
}

std::vector<std::string> addition_texts(const DnsAnswerVerdict& verdict) {
    std::vector<std::string> out;
    for (const auto& a : verdict.additions)
        out.push_back(std::to_string(a.group) + " " + a.address + (a.ipv6 ? " v6 " : " v4 ") +
                      std::to_string(a.ttl_seconds));
    return out;
}

}  // namespace

TEST_CASE("dns gate: an allowlisted question goes upstream, rebuilt", "[dns]") {
    DnsGate gate(test_config());

    SECTION("host entry") {
        DnsQueryVerdict v = gate.check_query(query("example.com.", LDNS_RR_TYPE_A, 0x4242));
        CHECK(v.forward);
        CHECK(v.reply.empty());
        CHECK(v.name == "example.com");
        CHECK(v.qtype == LDNS_RR_TYPE_A);
        REQUIRE_FALSE(v.upstream_query.empty());
        CHECK(id_of(v.upstream_query) == 0x4242);
        CHECK(records(v.upstream_query, LDNS_SECTION_QUESTION) == std::vector<std::string>{"example.com. A"});
    }
    SECTION("AAAA and CNAME questions are served too") {
        CHECK(gate.check_query(query("example.com.", LDNS_RR_TYPE_AAAA)).forward);
        CHECK(gate.check_query(query("example.com.", LDNS_RR_TYPE_CNAME)).forward);
    }
    SECTION("suffix entry covers names below it, not itself") {
        CHECK(gate.check_query(query("deb.debian.org.")).forward);
        CHECK(gate.check_query(query("a.b.security.debian.org.")).forward);
        DnsQueryVerdict apex = gate.check_query(query("debian.org."));
        CHECK_FALSE(apex.forward);
        CHECK(apex.reason == "not on the allowlist");
        CHECK_FALSE(gate.check_query(query("evildebian.org.")).forward);
    }
    SECTION("case and the trailing dot do not matter (0x20 mixed case)") {
        DnsQueryVerdict v = gate.check_query(query("DeB.DEBIAN.org"));
        CHECK(v.forward);
        CHECK(v.name == "deb.debian.org");
        // ... and the letter case the job chose does not leave: it could carry bits upstream
        CHECK(records(v.upstream_query, LDNS_SECTION_QUESTION) == std::vector<std::string>{"deb.debian.org. A"});
    }
    SECTION("nothing but the question leaves: extra records and EDNS options stay behind") {
        Pkt pkt = query_pkt("example.com.", LDNS_RR_TYPE_A);
        // A stub cannot smuggle data out in the sections of its query.
        ldns_pkt_push_rr(pkt.get(), LDNS_SECTION_ANSWER, rr_from("secret.example.com. 1 IN TXT \"stolen-token\""));
        ldns_pkt_push_rr(pkt.get(), LDNS_SECTION_AUTHORITY, rr_from("leak.example.com. 1 IN A 1.2.3.4"));
        ldns_pkt_push_rr(pkt.get(), LDNS_SECTION_ADDITIONAL, rr_from("more.example.com. 1 IN TXT \"data\""));
        ldns_pkt_set_edns_udp_size(pkt.get(), 4096);
        Wire sent = wire_of(pkt.get());
        DnsQueryVerdict v = gate.check_query(sent);
        REQUIRE(v.forward);
        Pkt up = parse(v.upstream_query);
        CHECK(ldns_pkt_qdcount(up.get()) == 1);
        CHECK(ldns_pkt_ancount(up.get()) == 0);
        CHECK(ldns_pkt_nscount(up.get()) == 0);
        CHECK(ldns_rr_list_rr_count(ldns_pkt_additional(up.get())) == 0);  // OPT is not kept as a record
        CHECK(ldns_pkt_edns_udp_size(up.get()) == 1232);
        std::string as_text(v.upstream_query.begin(), v.upstream_query.end());
        CHECK(as_text.find("stolen-token") == std::string::npos);
        CHECK(v.upstream_query.size() < sent.size());
    }
}

TEST_CASE("dns gate: an unlisted name is refused here and never forwarded", "[dns]") {
    DnsGate gate(test_config());
    Wire q = query("aGVsbG8gd29ybGQ.exfil.attacker.example.", LDNS_RR_TYPE_A, 0xbeef);
    DnsQueryVerdict v = gate.check_query(q);
    CHECK_FALSE(v.forward);
    CHECK(v.upstream_query.empty());
    CHECK(v.reason == "not on the allowlist");
    CHECK(v.name == "agvsbg8gd29ybgq.exfil.attacker.example");
    REQUIRE_FALSE(v.reply.empty());
    CHECK(id_of(v.reply) == 0xbeef);
    CHECK(rcode_of(v.reply) == LDNS_RCODE_REFUSED);
    CHECK(ldns_pkt_qr(parse(v.reply).get()));
    CHECK(records(v.reply, LDNS_SECTION_QUESTION) ==
          std::vector<std::string>{"aGVsbG8gd29ybGQ.exfil.attacker.example. A"});
    CHECK(records(v.reply, LDNS_SECTION_ANSWER).empty());

    SECTION("a name next to an allowed one") {
        CHECK_FALSE(gate.check_query(query("www.example.com.")).forward);
        CHECK_FALSE(gate.check_query(query("example.com.evil.")).forward);
        CHECK_FALSE(gate.check_query(query("xexample.com.")).forward);
    }
    SECTION("CIDR entries allow no names") {
        CHECK_FALSE(gate.check_query(query("0.113.0.203.in-addr.arpa.", LDNS_RR_TYPE_A)).forward);
    }
}

TEST_CASE("dns gate: only A, AAAA and CNAME questions of class IN", "[dns]") {
    DnsGate gate(test_config());
    for (ldns_rr_type type : {LDNS_RR_TYPE_TXT, LDNS_RR_TYPE_MX, LDNS_RR_TYPE_ANY, LDNS_RR_TYPE_NULL,
                              LDNS_RR_TYPE_PTR, LDNS_RR_TYPE_SRV, LDNS_RR_TYPE_AXFR}) {
        DnsQueryVerdict v = gate.check_query(query("example.com.", type));
        INFO(dns_type_name(type));
        CHECK_FALSE(v.forward);
        CHECK(rcode_of(v.reply) == LDNS_RCODE_REFUSED);
        CHECK(v.reason.find(dns_type_name(type)) != std::string::npos);
        CHECK(v.qtype == type);
    }
    DnsQueryVerdict txt = gate.check_query(query("example.com.", LDNS_RR_TYPE_TXT));
    CHECK(txt.reason == "type TXT not served");

    DnsQueryVerdict chaos = gate.check_query(wire_of(query_pkt("example.com.", LDNS_RR_TYPE_A, 7, LDNS_RR_CLASS_CH).get()));
    CHECK_FALSE(chaos.forward);
    CHECK(rcode_of(chaos.reply) == LDNS_RCODE_REFUSED);
}

TEST_CASE("dns gate: malformed and odd queries", "[dns]") {
    DnsGate gate(test_config());

    SECTION("a name that is not a plain host name") {
        // Escaped bytes are a classic way to carry binary data in a name.
        DnsQueryVerdict v = gate.check_query(query("a\\000b.example.com.", LDNS_RR_TYPE_A));
        CHECK_FALSE(v.forward);
        CHECK(v.reason == "not a host name");
        CHECK(rcode_of(v.reply) == LDNS_RCODE_REFUSED);
    }
    SECTION("opcode other than QUERY") {
        Pkt pkt = query_pkt("example.com.", LDNS_RR_TYPE_A, 9);
        ldns_pkt_set_opcode(pkt.get(), LDNS_PACKET_NOTIFY);
        DnsQueryVerdict v = gate.check_query(wire_of(pkt.get()));
        CHECK_FALSE(v.forward);
        CHECK(rcode_of(v.reply) == LDNS_RCODE_NOTIMPL);
        CHECK(id_of(v.reply) == 9);
    }
    SECTION("two questions, or none") {
        Pkt two = query_pkt("example.com.", LDNS_RR_TYPE_A, 10);
        ldns_rr* second = ldns_rr_clone(ldns_rr_list_rr(ldns_pkt_question(two.get()), 0));
        ldns_pkt_push_rr(two.get(), LDNS_SECTION_QUESTION, second);
        DnsQueryVerdict v = gate.check_query(wire_of(two.get()));
        CHECK_FALSE(v.forward);
        CHECK(rcode_of(v.reply) == LDNS_RCODE_FORMERR);

        Pkt none(ldns_pkt_new());
        ldns_pkt_set_id(none.get(), 11);
        DnsQueryVerdict w = gate.check_query(wire_of(none.get()));
        CHECK_FALSE(w.forward);
        CHECK(rcode_of(w.reply) == LDNS_RCODE_FORMERR);
        CHECK(id_of(w.reply) == 11);
    }
    SECTION("a response sent as a query gets no answer (no reflection loops)") {
        Pkt pkt = query_pkt("example.com.", LDNS_RR_TYPE_A);
        ldns_pkt_set_qr(pkt.get(), true);
        DnsQueryVerdict v = gate.check_query(wire_of(pkt.get()));
        CHECK_FALSE(v.forward);
        CHECK(v.reply.empty());
    }
    SECTION("shorter than a header: dropped") {
        for (std::size_t n = 0; n < 12; ++n) {
            DnsQueryVerdict v = gate.check_query(Wire(n, 0));
            CHECK_FALSE(v.forward);
            CHECK(v.reply.empty());
        }
    }
    SECTION("a truncated question: FORMERR with the same id") {
        Wire q = query("example.com.", LDNS_RR_TYPE_A, 0x7777);
        q.resize(q.size() - 6);
        DnsQueryVerdict v = gate.check_query(q);
        CHECK_FALSE(v.forward);
        REQUIRE_FALSE(v.reply.empty());
        CHECK(rcode_of(v.reply) == LDNS_RCODE_FORMERR);
        CHECK(id_of(v.reply) == 0x7777);
    }
    SECTION("random bytes never crash and are never forwarded") {
        std::mt19937 random(20240601);
        for (int i = 0; i < 5000; ++i) {
            Wire junk(random() % 600);
            for (auto& byte : junk) byte = static_cast<std::uint8_t>(random());
            if (i % 2 == 0 && junk.size() > 4) junk[2] &= 0x7f;  // QR clear, so it is parsed
            DnsQueryVerdict v = gate.check_query(junk);
            CHECK_FALSE(v.forward);
            if (!v.reply.empty()) CHECK(rcode_of(v.reply) != LDNS_RCODE_NOERROR);
        }
    }
    SECTION("mutations of a valid query never crash") {
        Wire good = query("deb.debian.org.", LDNS_RR_TYPE_AAAA);
        std::mt19937 random(7);
        for (int i = 0; i < 5000; ++i) {
            Wire q = good;
            q[random() % q.size()] = static_cast<std::uint8_t>(random());
            if (random() % 4 == 0) q.resize(random() % (q.size() + 1));
            DnsQueryVerdict v = gate.check_query(q);
            if (v.forward) CHECK_FALSE(v.upstream_query.empty());
        }
    }
}

TEST_CASE("dns gate: an answer becomes set additions for the question's groups", "[dns]") {
    DnsGate gate(test_config());
    Wire q = query("example.com.", LDNS_RR_TYPE_A, 0x2222);

    SECTION("A records: every group of every entry matching the name") {
        AnswerSpec spec;
        spec.answer = {"example.com. 300 IN A 93.184.216.34", "example.com. 300 IN A 93.184.216.35"};
        spec.authority = {"example.com. 3600 IN NS ns.attacker.example."};
        spec.additional = {"ns.attacker.example. 3600 IN A 203.0.113.53"};
        DnsAnswerVerdict v = gate.check_answer(q, answer(q, spec));
        CHECK(v.matched);
        CHECK(addition_texts(v) == std::vector<std::string>{"0 93.184.216.34 v4 300", "2 93.184.216.34 v4 300",
                                                            "0 93.184.216.35 v4 300", "2 93.184.216.35 v4 300"});
        CHECK(v.withheld.empty());
        CHECK(id_of(v.reply) == 0x2222);
        CHECK(rcode_of(v.reply) == LDNS_RCODE_NOERROR);
        CHECK(records(v.reply, LDNS_SECTION_ANSWER) ==
              std::vector<std::string>{"example.com. A 93.184.216.34 300", "example.com. A 93.184.216.35 300"});
        // Authority and glue are dropped: the cell would otherwise learn (and cache) names and
        // addresses nobody checked.
        CHECK(records(v.reply, LDNS_SECTION_AUTHORITY).empty());
        CHECK(records(v.reply, LDNS_SECTION_ADDITIONAL).empty());
    }
    SECTION("AAAA records") {
        Wire q6 = query("deb.debian.org.", LDNS_RR_TYPE_AAAA, 3);
        AnswerSpec spec;
        spec.answer = {"deb.debian.org. 120 IN AAAA 2a04:4e42::644"};
        DnsAnswerVerdict v = gate.check_answer(q6, answer(q6, spec));
        CHECK(addition_texts(v) == std::vector<std::string>{"1 2a04:4e42::644 v6 120"});
        CHECK(records(v.reply, LDNS_SECTION_ANSWER) == std::vector<std::string>{"deb.debian.org. AAAA 2a04:4e42::644 120"});
    }
    SECTION("records of another type or class than asked are not passed or added") {
        AnswerSpec spec;
        spec.answer = {"example.com. 300 IN AAAA 2606:2800:220:1::1", "example.com. 300 IN TXT \"x\"",
                       "example.com. 300 CH A 93.184.216.36", "example.com. 300 IN A 93.184.216.34"};
        DnsAnswerVerdict v = gate.check_answer(q, answer(q, spec));
        CHECK(addition_texts(v) == std::vector<std::string>{"0 93.184.216.34 v4 300", "2 93.184.216.34 v4 300"});
        CHECK(records(v.reply, LDNS_SECTION_ANSWER) == std::vector<std::string>{"example.com. A 93.184.216.34 300"});
    }
    SECTION("records for names nobody asked about are dropped") {
        AnswerSpec spec;
        spec.answer = {"example.com. 300 IN A 93.184.216.34", "attacker.example. 300 IN A 198.51.100.66",
                       "deb.debian.org. 300 IN A 198.51.100.67"};
        DnsAnswerVerdict v = gate.check_answer(q, answer(q, spec));
        CHECK(addition_texts(v) == std::vector<std::string>{"0 93.184.216.34 v4 300", "2 93.184.216.34 v4 300"});
        CHECK(records(v.reply, LDNS_SECTION_ANSWER).size() == 1);
    }
    SECTION("the reply echoes the cell's question and id, whatever case upstream used") {
        Wire mixed = query("ExAmPlE.cOm.", LDNS_RR_TYPE_A, 0x3333);
        AnswerSpec spec;
        spec.answer = {"example.com. 300 IN A 93.184.216.34"};
        Pkt a = answer_pkt(query("example.com.", LDNS_RR_TYPE_A, 0x3333), spec);
        DnsAnswerVerdict v = gate.check_answer(mixed, wire_of(a.get()));
        CHECK(v.matched);
        CHECK(records(v.reply, LDNS_SECTION_QUESTION) == std::vector<std::string>{"ExAmPlE.cOm. A"});
        CHECK(v.additions.size() == 2);
    }
}

TEST_CASE("dns gate: CNAME chains", "[dns]") {
    DnsGate gate(test_config());
    Wire q = query("example.com.", LDNS_RR_TYPE_A, 0x5555);

    SECTION("followed to another name; addresses go to the question's groups, min TTL") {
        AnswerSpec spec;
        spec.answer = {"example.com. 600 IN CNAME cdn.provider.test.",
                       "cdn.provider.test. 120 IN CNAME edge.provider.test.",
                       "cdn.provider.test. 120 IN A 198.51.100.9",  // owned by the middle of the chain
                       "edge.provider.test. 900 IN A 198.51.100.20"};
        DnsAnswerVerdict v = gate.check_answer(q, answer(q, spec));
        CHECK(v.matched);
        CHECK(addition_texts(v) == std::vector<std::string>{"0 198.51.100.20 v4 120", "2 198.51.100.20 v4 120"});
        CHECK(records(v.reply, LDNS_SECTION_ANSWER) ==
              std::vector<std::string>{"example.com. CNAME cdn.provider.test. 600",
                                       "cdn.provider.test. CNAME edge.provider.test. 120",
                                       "edge.provider.test. A 198.51.100.20 120"});
    }
    SECTION("records in any order") {
        AnswerSpec spec;
        spec.answer = {"edge.provider.test. 300 IN A 198.51.100.20", "cdn.provider.test. 300 IN CNAME edge.provider.test.",
                       "example.com. 300 IN CNAME cdn.provider.test."};
        DnsAnswerVerdict v = gate.check_answer(q, answer(q, spec));
        CHECK(addition_texts(v) == std::vector<std::string>{"0 198.51.100.20 v4 300", "2 198.51.100.20 v4 300"});
        CHECK(records(v.reply, LDNS_SECTION_ANSWER).size() == 3);
    }
    SECTION("a loop is SERVFAIL") {
        AnswerSpec spec;
        spec.answer = {"example.com. 300 IN CNAME a.provider.test.", "a.provider.test. 300 IN CNAME b.provider.test.",
                       "b.provider.test. 300 IN CNAME EXAMPLE.com.", "example.com. 300 IN A 198.51.100.20"};
        DnsAnswerVerdict v = gate.check_answer(q, answer(q, spec));
        CHECK(v.matched);
        CHECK(rcode_of(v.reply) == LDNS_RCODE_SERVFAIL);
        CHECK(v.additions.empty());
        CHECK(records(v.reply, LDNS_SECTION_ANSWER).empty());
    }
    SECTION("a chain longer than 16 hops is SERVFAIL; 16 are fine") {
        auto chain_of = [&](int hops) {
            AnswerSpec spec;
            std::string from = "example.com.";
            for (int i = 0; i < hops; ++i) {
                std::string to = "hop" + std::to_string(i) + ".provider.test.";
                spec.answer.push_back(from + " 300 IN CNAME " + to);
                from = to;
            }
            spec.answer.push_back(from + " 300 IN A 198.51.100.20");
            return gate.check_answer(q, answer(q, spec));
        };
        DnsAnswerVerdict ok = chain_of(16);
        CHECK(rcode_of(ok.reply) == LDNS_RCODE_NOERROR);
        CHECK(ok.additions.size() == 2);
        DnsAnswerVerdict too_long = chain_of(17);
        CHECK(rcode_of(too_long.reply) == LDNS_RCODE_SERVFAIL);
        CHECK(too_long.additions.empty());
    }
    SECTION("a CNAME question gets the chain and no addresses") {
        Wire qc = query("example.com.", LDNS_RR_TYPE_CNAME, 8);
        AnswerSpec spec;
        spec.answer = {"example.com. 300 IN CNAME cdn.provider.test.", "cdn.provider.test. 300 IN A 198.51.100.20"};
        DnsAnswerVerdict v = gate.check_answer(qc, answer(qc, spec));
        CHECK(v.additions.empty());
        CHECK(records(v.reply, LDNS_SECTION_ANSWER) ==
              std::vector<std::string>{"example.com. CNAME cdn.provider.test. 300"});
    }
}

TEST_CASE("dns gate: an answer for another question is SERVFAIL", "[dns]") {
    DnsGate gate(test_config());
    Wire q = query("example.com.", LDNS_RR_TYPE_A, 0x6666);
    AnswerSpec spec;
    spec.answer = {"attacker.example. 300 IN A 198.51.100.66"};

    auto expect_unmatched = [&](const Wire& upstream) {
        DnsAnswerVerdict v = gate.check_answer(q, upstream);
        CHECK_FALSE(v.matched);
        CHECK(v.additions.empty());
        CHECK(rcode_of(v.reply) == LDNS_RCODE_SERVFAIL);
        CHECK(id_of(v.reply) == 0x6666);
    };
    SECTION("another name") { expect_unmatched(answer(query("attacker.example.", LDNS_RR_TYPE_A, 0x6666), spec)); }
    SECTION("another type") {
        AnswerSpec six;
        six.answer = {"example.com. 300 IN AAAA 2001:db8::1"};
        expect_unmatched(answer(query("example.com.", LDNS_RR_TYPE_AAAA, 0x6666), six));
    }
    SECTION("another id") {
        AnswerSpec right;
        right.answer = {"example.com. 300 IN A 93.184.216.34"};
        expect_unmatched(answer(query("example.com.", LDNS_RR_TYPE_A, 0x6667), right));
    }
    SECTION("QR not set") {
        AnswerSpec right;
        right.answer = {"example.com. 300 IN A 93.184.216.34"};
        Pkt a = answer_pkt(q, right);
        ldns_pkt_set_qr(a.get(), false);
        expect_unmatched(wire_of(a.get()));
    }
    SECTION("no question") {
        Pkt a(ldns_pkt_new());
        ldns_pkt_set_id(a.get(), 0x6666);
        ldns_pkt_set_qr(a.get(), true);
        ldns_pkt_push_rr(a.get(), LDNS_SECTION_ANSWER, rr_from("example.com. 300 IN A 93.184.216.34"));
        expect_unmatched(wire_of(a.get()));
    }
    SECTION("garbage") {
        expect_unmatched(Wire{});
        expect_unmatched(Wire(5, 0xff));
        Wire cut = answer(q, spec);
        cut.resize(cut.size() - 3);
        expect_unmatched(cut);
    }
    SECTION("a query for an unlisted name gets nothing through, whatever upstream says") {
        Wire unlisted = query("attacker.example.", LDNS_RR_TYPE_A, 0x6666);
        DnsAnswerVerdict v = gate.check_answer(unlisted, answer(unlisted, spec));
        CHECK(v.additions.empty());
        CHECK(rcode_of(v.reply) == LDNS_RCODE_SERVFAIL);
    }
}

TEST_CASE("dns gate: always-denied addresses are withheld", "[dns]") {
    DnsGate gate(test_config());
    Wire q = query("internal.example.net.", LDNS_RR_TYPE_A, 0x7070);
    AnswerSpec spec;
    // A public name pointing at the metadata service or a private network is the DNS
    // rebinding route into the host's neighbourhood.
    spec.answer = {"internal.example.net. 300 IN A 169.254.169.254", "internal.example.net. 300 IN A 10.0.0.1",
                   "internal.example.net. 300 IN A 192.0.2.1",  // the host's own address
                   "internal.example.net. 300 IN A 93.184.216.34"};
    DnsAnswerVerdict v = gate.check_answer(q, answer(q, spec));
    CHECK(v.withheld == std::vector<std::string>{"169.254.169.254", "10.0.0.1", "192.0.2.1"});
    CHECK(addition_texts(v) == std::vector<std::string>{"0 93.184.216.34 v4 300"});
    CHECK(records(v.reply, LDNS_SECTION_ANSWER) ==
          std::vector<std::string>{"internal.example.net. A 93.184.216.34 300"});

    SECTION("only denied addresses: an empty NOERROR answer") {
        AnswerSpec bad;
        bad.answer = {"internal.example.net. 300 IN A 169.254.169.254"};
        DnsAnswerVerdict w = gate.check_answer(q, answer(q, bad));
        CHECK(w.withheld == std::vector<std::string>{"169.254.169.254"});
        CHECK(w.additions.empty());
        CHECK(rcode_of(w.reply) == LDNS_RCODE_NOERROR);
        CHECK(records(w.reply, LDNS_SECTION_ANSWER).empty());
    }
    SECTION("IPv6: the metadata address and ULA") {
        Wire q6 = query("internal.example.net.", LDNS_RR_TYPE_AAAA, 0x7071);
        AnswerSpec six;
        six.answer = {"internal.example.net. 300 IN AAAA fd00:ec2::254", "internal.example.net. 300 IN AAAA fd12:3456::1",
                      "internal.example.net. 300 IN AAAA 2606:2800:220:1::1"};
        DnsAnswerVerdict w = gate.check_answer(q6, answer(q6, six));
        CHECK(w.withheld == std::vector<std::string>{"fd00:ec2::254", "fd12:3456::1"});
        CHECK(addition_texts(w) == std::vector<std::string>{"0 2606:2800:220:1::1 v6 300"});
    }
}

TEST_CASE("dns gate: TTLs are clamped for the sets, capped for the cell", "[dns]") {
    DnsGate gate(test_config());
    Wire q = query("pkg.example.net.", LDNS_RR_TYPE_A, 1);
    AnswerSpec spec;
    spec.answer = {"pkg.example.net. 5 IN A 93.184.216.34", "pkg.example.net. 86400 IN A 93.184.216.35",
                   "pkg.example.net. 0 IN A 93.184.216.36", "pkg.example.net. 2147483648 IN A 93.184.216.37"};
    DnsAnswerVerdict v = gate.check_answer(q, answer(q, spec));
    CHECK(addition_texts(v) == std::vector<std::string>{"2 93.184.216.34 v4 30", "2 93.184.216.35 v4 3600",
                                                        "2 93.184.216.36 v4 30", "2 93.184.216.37 v4 3600"});
    // The cell never caches an address longer than the set admits it.
    CHECK(records(v.reply, LDNS_SECTION_ANSWER) ==
          std::vector<std::string>{"pkg.example.net. A 93.184.216.34 5", "pkg.example.net. A 93.184.216.35 3600",
                                   "pkg.example.net. A 93.184.216.36 0", "pkg.example.net. A 93.184.216.37 3600"});

    SECTION("configured bounds") {
        DnsGateConfig config = test_config();
        config.min_ttl = 60;
        config.max_ttl = 120;
        DnsGate narrow(config);
        DnsAnswerVerdict w = narrow.check_answer(q, answer(q, spec));
        CHECK(addition_texts(w) == std::vector<std::string>{"2 93.184.216.34 v4 60", "2 93.184.216.35 v4 120",
                                                            "2 93.184.216.36 v4 60", "2 93.184.216.37 v4 120"});
    }
}

TEST_CASE("dns gate: negative answers pass, upstream errors become SERVFAIL", "[dns]") {
    DnsGate gate(test_config());
    Wire q = query("example.com.", LDNS_RR_TYPE_AAAA, 0x0101);
    std::string soa = "example.com. 3600 IN SOA ns.example.com. admin.example.com. 1 7200 3600 1209600 300";

    SECTION("NXDOMAIN, without the authority section") {
        AnswerSpec spec;
        spec.rcode = LDNS_RCODE_NXDOMAIN;
        spec.authority = {soa};
        DnsAnswerVerdict v = gate.check_answer(q, answer(q, spec));
        CHECK(v.matched);
        CHECK(rcode_of(v.reply) == LDNS_RCODE_NXDOMAIN);
        CHECK(records(v.reply, LDNS_SECTION_AUTHORITY).empty());
        CHECK(v.additions.empty());
    }
    SECTION("NODATA") {
        AnswerSpec spec;
        spec.authority = {soa};
        DnsAnswerVerdict v = gate.check_answer(q, answer(q, spec));
        CHECK(rcode_of(v.reply) == LDNS_RCODE_NOERROR);
        CHECK(records(v.reply, LDNS_SECTION_ANSWER).empty());
        CHECK(records(v.reply, LDNS_SECTION_AUTHORITY).empty());
        CHECK(v.additions.empty());
    }
    SECTION("NXDOMAIN ignores addresses an upstream put in anyway") {
        AnswerSpec spec;
        spec.rcode = LDNS_RCODE_NXDOMAIN;
        spec.answer = {"example.com. 300 IN AAAA 2001:db8::1"};
        DnsAnswerVerdict v = gate.check_answer(q, answer(q, spec));
        CHECK(v.additions.empty());
        CHECK(records(v.reply, LDNS_SECTION_ANSWER).empty());
    }
    SECTION("REFUSED, SERVFAIL, NOTIMP upstream") {
        for (ldns_pkt_rcode rcode : {LDNS_RCODE_REFUSED, LDNS_RCODE_SERVFAIL, LDNS_RCODE_NOTIMPL}) {
            AnswerSpec spec;
            spec.rcode = rcode;
            DnsAnswerVerdict v = gate.check_answer(q, answer(q, spec));
            CHECK(v.matched);
            CHECK(rcode_of(v.reply) == LDNS_RCODE_SERVFAIL);
        }
    }
    SECTION("a truncated upstream answer (no TCP upstream)") {
        AnswerSpec spec;
        spec.answer = {"example.com. 300 IN AAAA 2001:db8::1"};
        Pkt a = answer_pkt(q, spec);
        ldns_pkt_set_tc(a.get(), true);
        DnsAnswerVerdict v = gate.check_answer(q, wire_of(a.get()));
        CHECK(rcode_of(v.reply) == LDNS_RCODE_SERVFAIL);
        CHECK(v.additions.empty());
    }
    SECTION("mutated answers never crash and never add what was not asked for") {
        AnswerSpec spec;
        spec.answer = {"example.com. 300 IN CNAME cdn.provider.test.", "cdn.provider.test. 300 IN AAAA 2606:2800:220:1::1"};
        Wire good = answer(q, spec);
        std::mt19937 random(99);
        for (int i = 0; i < 5000; ++i) {
            Wire a = good;
            for (int k = 0; k < 3; ++k) a[random() % a.size()] = static_cast<std::uint8_t>(random());
            if (random() % 4 == 0) a.resize(random() % (a.size() + 1));
            DnsAnswerVerdict v = gate.check_answer(q, a);
            REQUIRE_FALSE(v.reply.empty());
            for (const auto& add : v.additions) CHECK(add.ipv6);
        }
    }
}

TEST_CASE("dns gate: UDP size limit and error replies", "[dns]") {
    DnsGate gate(test_config());
    Wire q = query("example.com.", LDNS_RR_TYPE_A, 0x0202);
    AnswerSpec spec;
    for (int i = 1; i <= 40; ++i) spec.answer.push_back("example.com. 300 IN A 93.184.216." + std::to_string(i));
    DnsAnswerVerdict v = gate.check_answer(q, answer(q, spec));
    REQUIRE(v.reply.size() > 512);
    CHECK(v.additions.size() == 80);

    SECTION("over 512 bytes without EDNS: TC and the question only") {
        Wire fitted = dns_fit_udp_reply(q, v.reply);
        Pkt p = parse(fitted);
        CHECK(ldns_pkt_tc(p.get()));
        CHECK(ldns_pkt_ancount(p.get()) == 0);
        CHECK(id_of(fitted) == 0x0202);
        CHECK(records(fitted, LDNS_SECTION_QUESTION) == std::vector<std::string>{"example.com. A"});
    }
    SECTION("with EDNS the reply fits as it is") {
        Pkt qe = query_pkt("example.com.", LDNS_RR_TYPE_A, 0x0202);
        ldns_pkt_set_edns_udp_size(qe.get(), 1232);
        Wire q_edns = wire_of(qe.get());
        DnsAnswerVerdict w = gate.check_answer(q_edns, answer(q_edns, spec));
        CHECK(ldns_pkt_edns(parse(w.reply).get()));
        CHECK(dns_fit_udp_reply(q_edns, w.reply) == w.reply);
    }
    SECTION("SERVFAIL for a query; nothing for a non-query") {
        Wire fail = dns_error_reply(q, LDNS_RCODE_SERVFAIL);
        CHECK(rcode_of(fail) == LDNS_RCODE_SERVFAIL);
        CHECK(id_of(fail) == 0x0202);
        CHECK(records(fail, LDNS_SECTION_QUESTION) == std::vector<std::string>{"example.com. A"});
        CHECK(dns_error_reply(Wire(3, 1), LDNS_RCODE_SERVFAIL).empty());
        CHECK(dns_error_reply(v.reply, LDNS_RCODE_SERVFAIL).empty());
    }
    CHECK(dns_type_name(LDNS_RR_TYPE_AAAA) == "AAAA");
    CHECK(dns_type_name(65280) == "TYPE65280");
}

TEST_CASE("dns gate: open mode forwards every host name, adds nothing, still withholds", "[dns]") {
    DnsGateConfig config;
    config.every_name = true;
    config.host_addresses = {"192.0.2.1"};
    DnsGate gate(config);
    Wire q = query("anything.example.org.", LDNS_RR_TYPE_A, 0x0e0e);
    DnsQueryVerdict v = gate.check_query(q);
    CHECK(v.forward);
    CHECK_FALSE(v.upstream_query.empty());
    AnswerSpec spec;
    spec.answer = {"anything.example.org. 300 IN A 169.254.169.254",
                   "anything.example.org. 300 IN A 93.184.216.34"};
    DnsAnswerVerdict a = gate.check_answer(q, answer(q, spec));
    CHECK(a.matched);
    CHECK(a.withheld == std::vector<std::string>{"169.254.169.254"});
    CHECK(a.additions.empty());  // the open ruleset needs no set
    CHECK(records(a.reply, LDNS_SECTION_ANSWER) ==
          std::vector<std::string>{"anything.example.org. A 93.184.216.34 300"});

    SECTION("types other than A, AAAA and CNAME are still refused") {
        DnsQueryVerdict txt = gate.check_query(query("anything.example.org.", LDNS_RR_TYPE_TXT, 0x0e0f));
        CHECK_FALSE(txt.forward);
        CHECK(txt.reason == "type TXT not served");
    }
}
