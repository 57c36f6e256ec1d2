#include "net/dns_gate.hpp"

#include "net/ldns.hpp"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <utility>

#include "net/ruleset.hpp"

namespace jobcell {
namespace {

// A CNAME chain longer than this is a misconfiguration or an attack on the forwarder's time.
constexpr std::size_t kMaxChainHops = 16;
// The DNS flag day size: big enough for A/AAAA answers, small enough to avoid IP fragments.
constexpr std::uint16_t kEdnsUdpSize = 1232;
constexpr std::size_t kPlainUdpLimit = 512;

struct PktFree {
    void operator()(ldns_pkt* p) const noexcept { ldns_pkt_free(p); }
};
struct RrFree {
    void operator()(ldns_rr* rr) const noexcept { ldns_rr_free(rr); }
};
struct MallocFree {
    void operator()(void* p) const noexcept { std::free(p); }
};
using Pkt = std::unique_ptr<ldns_pkt, PktFree>;
using Rr = std::unique_ptr<ldns_rr, RrFree>;

Pkt parse(std::span<const std::uint8_t> wire) {
    if (wire.size() < LDNS_HEADER_SIZE) return {};
    ldns_pkt* raw = nullptr;
    // ldns_wire2pkt frees its partial packet itself on failure.
    if (ldns_wire2pkt(&raw, wire.data(), wire.size()) != LDNS_STATUS_OK) return {};
    return Pkt(raw);
}

std::vector<std::uint8_t> to_wire(const ldns_pkt* pkt) {
    std::uint8_t* raw = nullptr;
    std::size_t size = 0;
    if (ldns_pkt2wire(&raw, pkt, &size) != LDNS_STATUS_OK) return {};
    std::unique_ptr<std::uint8_t, MallocFree> owned(raw);
    return {raw, raw + size};
}

std::string rdf_text(const ldns_rdf* rdf) {
    std::unique_ptr<char, MallocFree> text(ldns_rdf2str(rdf));
    return text ? std::string(text.get()) : std::string();
}

bool same_name(const ldns_rdf* a, const ldns_rdf* b) {
    // ldns_dname_compare ignores case, as DNS does (and stubs use 0x20 mixed case).
    return a && b && ldns_rdf_get_type(a) == LDNS_RDF_TYPE_DNAME &&
           ldns_rdf_get_type(b) == LDNS_RDF_TYPE_DNAME && ldns_dname_compare(a, b) == 0;
}

// The single question of a parsed message, or nullptr.
const ldns_rr* only_question(const ldns_pkt* pkt) {
    const ldns_rr_list* questions = ldns_pkt_question(pkt);
    if (ldns_pkt_qdcount(pkt) != 1 || !questions || ldns_rr_list_rr_count(questions) != 1)
        return nullptr;
    return ldns_rr_list_rr(questions, 0);
}

// The question's name for matching and logging: normalised when it is a plain host name,
// otherwise ldns's escaped presentation form (printable, safe in a log line) and `host` false.
std::string question_name(const ldns_rr* question, bool& host) {
    std::string text = rdf_text(ldns_rr_owner(question));
    std::optional<std::string> normal = normalise_dns_name(text);
    host = normal.has_value();
    if (host) return *normal;
    if (text.size() > 1 && text.back() == '.') text.pop_back();
    return text.substr(0, 255);
}

bool served_type(std::uint16_t type) {
    return type == LDNS_RR_TYPE_A || type == LDNS_RR_TYPE_AAAA || type == LDNS_RR_TYPE_CNAME;
}

// The header every reply of ours starts from: the query's id, opcode and RD, our RA, and
// EDNS when the query had it (RFC 6891 wants an OPT back).
Pkt reply_skeleton(const ldns_pkt* query, std::uint8_t rcode, bool with_question) {
    Pkt reply(ldns_pkt_new());
    if (!reply) return {};
    ldns_pkt_set_id(reply.get(), ldns_pkt_id(query));
    ldns_pkt_set_qr(reply.get(), true);
    ldns_pkt_set_opcode(reply.get(), ldns_pkt_get_opcode(query));
    ldns_pkt_set_rd(reply.get(), ldns_pkt_rd(query));
    ldns_pkt_set_ra(reply.get(), true);
    ldns_pkt_set_rcode(reply.get(), rcode);
    if (with_question) {
        if (const ldns_rr* question = only_question(query)) {
            ldns_rr* copy = ldns_rr_clone(question);
            if (copy && !ldns_pkt_push_rr(reply.get(), LDNS_SECTION_QUESTION, copy))
                ldns_rr_free(copy);
        }
    }
    if (ldns_pkt_edns(query)) ldns_pkt_set_edns_udp_size(reply.get(), kEdnsUdpSize);
    return reply;
}

std::vector<std::uint8_t> error_reply(const ldns_pkt* query, std::uint8_t rcode) {
    Pkt reply = reply_skeleton(query, rcode, true);
    return reply ? to_wire(reply.get()) : std::vector<std::uint8_t>{};
}

// FORMERR for a message ldns cannot parse: only the header fields are known, so only those
// are echoed (RFC 1035 4.1.1).
std::vector<std::uint8_t> formerr_from_header(std::span<const std::uint8_t> wire) {
    Pkt reply(ldns_pkt_new());
    if (!reply) return {};
    ldns_pkt_set_id(reply.get(), LDNS_ID_WIRE(wire.data()));
    ldns_pkt_set_qr(reply.get(), true);
    ldns_pkt_set_opcode(reply.get(), static_cast<ldns_pkt_opcode>(LDNS_OPCODE_WIRE(wire.data())));
    ldns_pkt_set_rd(reply.get(), LDNS_RD_WIRE(wire.data()) != 0);
    ldns_pkt_set_rcode(reply.get(), LDNS_RCODE_FORMERR);
    return to_wire(reply.get());
}

// The query that goes upstream: the question and RD, nothing else the cell wrote.
std::vector<std::uint8_t> upstream_query_for(const ldns_pkt* query, const ldns_rr* question) {
    Pkt out(ldns_pkt_new());
    if (!out) return {};
    ldns_pkt_set_id(out.get(), ldns_pkt_id(query));
    ldns_pkt_set_opcode(out.get(), LDNS_PACKET_QUERY);
    ldns_pkt_set_rd(out.get(), true);
    ldns_rr* copy = ldns_rr_clone(question);
    // In lower case: the letter case of a name the job asked for would otherwise carry bits of
    // its choosing to the resolver (about one per letter), past the allowlist.
    if (copy) ldns_dname2canonical(ldns_rr_owner(copy));
    if (!copy || !ldns_pkt_push_rr(out.get(), LDNS_SECTION_QUESTION, copy)) {
        ldns_rr_free(copy);
        return {};
    }
    // EDNS so that answers up to this size fit in UDP (no TCP upstream).
    ldns_pkt_set_edns_udp_size(out.get(), kEdnsUdpSize);
    return to_wire(out.get());
}

DnsQueryVerdict refuse(DnsQueryVerdict verdict, const ldns_pkt* query, std::uint8_t rcode,
                       std::string reason) {
    verdict.reply = error_reply(query, rcode);
    verdict.reason = std::move(reason);
    return verdict;
}

struct Chain {
    bool ok = false;
    std::vector<const ldns_rr*> cnames;  // in the answer section, in chain order
    const ldns_rdf* last = nullptr;      // the name the addresses must be owned by
    std::uint32_t min_ttl = UINT32_MAX;
};

const ldns_rr* cname_of(const ldns_rr_list* answer, const ldns_rdf* owner) {
    for (std::size_t i = 0; answer && i < ldns_rr_list_rr_count(answer); ++i) {
        const ldns_rr* rr = ldns_rr_list_rr(answer, i);
        if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME && ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN &&
            ldns_rr_rd_count(rr) == 1 && same_name(ldns_rr_owner(rr), owner))
            return rr;
    }
    return nullptr;
}

// Follows CNAMEs from the question's name. Records for other names are never looked at, so an
// upstream cannot slip in addresses for a name nobody asked about.
Chain follow_chain(const ldns_rr_list* answer, const ldns_rdf* qname) {
    Chain chain;
    std::vector<const ldns_rdf*> seen{qname};
    const ldns_rdf* current = qname;
    while (const ldns_rr* cname = cname_of(answer, current)) {
        if (chain.cnames.size() == kMaxChainHops) return chain;
        const ldns_rdf* target = ldns_rr_rdf(cname, 0);
        for (const ldns_rdf* name : seen)
            if (same_name(name, target)) return chain;  // a loop
        chain.cnames.push_back(cname);
        chain.min_ttl = std::min(chain.min_ttl, ldns_rr_ttl(cname));
        seen.push_back(target);
        current = target;
    }
    chain.ok = true;
    chain.last = current;
    return chain;
}

bool push_copy(ldns_pkt* pkt, const ldns_rr* rr, std::uint32_t ttl) {
    Rr copy(ldns_rr_clone(rr));
    if (!copy) return false;
    ldns_rr_set_ttl(copy.get(), ttl);
    if (!ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER, copy.get())) return false;
    copy.release();  // the packet owns it now
    return true;
}

bool is_address_of(const ldns_rr* rr, std::uint16_t qtype, const ldns_rdf* owner) {
    ldns_rr_type type = ldns_rr_get_type(rr);
    if (type != LDNS_RR_TYPE_A && type != LDNS_RR_TYPE_AAAA) return false;
    return type == qtype && ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN && ldns_rr_rd_count(rr) == 1 &&
           same_name(ldns_rr_owner(rr), owner);
}

}  // namespace

DnsGate::DnsGate(DnsGateConfig config) : config_(std::move(config)) {
    config_.max_ttl = std::max(config_.max_ttl, config_.min_ttl);
}

std::vector<int> DnsGate::groups_for(const std::string& name) const {
    std::vector<int> groups;
    for (std::size_t i = 0; i < config_.entries.size() && i < config_.entry_group.size(); ++i) {
        int group = config_.entry_group[i];
        if (group >= 0 && entry_matches_name(config_.entries[i], name) &&
            std::find(groups.begin(), groups.end(), group) == groups.end())
            groups.push_back(group);
    }
    std::sort(groups.begin(), groups.end());
    return groups;
}

DnsQueryVerdict DnsGate::check_query(std::span<const std::uint8_t> query) const {
    DnsQueryVerdict verdict;
    if (query.size() < LDNS_HEADER_SIZE) {
        verdict.reason = "shorter than a DNS header";
        return verdict;  // no id to answer to
    }
    if (LDNS_QR_WIRE(query.data())) {
        // Answering responses could make two servers talk to each other forever.
        verdict.reason = "a response, not a query";
        return verdict;
    }
    Pkt pkt = parse(query);
    if (!pkt) {
        verdict.reply = formerr_from_header(query);
        verdict.reason = "malformed message";
        return verdict;
    }
    if (ldns_pkt_get_opcode(pkt.get()) != LDNS_PACKET_QUERY)
        return refuse(std::move(verdict), pkt.get(), LDNS_RCODE_NOTIMPL, "opcode not served");
    const ldns_rr* question = only_question(pkt.get());
    if (!question)
        return refuse(std::move(verdict), pkt.get(), LDNS_RCODE_FORMERR,
                      "not exactly one question");

    bool host = false;
    verdict.name = question_name(question, host);
    verdict.qtype = ldns_rr_get_type(question);
    if (ldns_rr_get_class(question) != LDNS_RR_CLASS_IN)
        return refuse(std::move(verdict), pkt.get(), LDNS_RCODE_REFUSED, "class not served");
    if (!served_type(verdict.qtype))
        return refuse(std::move(verdict), pkt.get(), LDNS_RCODE_REFUSED,
                      "type " + dns_type_name(verdict.qtype) + " not served");
    if (!host)
        return refuse(std::move(verdict), pkt.get(), LDNS_RCODE_REFUSED, "not a host name");
    if (!config_.every_name && groups_for(verdict.name).empty())
        return refuse(std::move(verdict), pkt.get(), LDNS_RCODE_REFUSED, "not on the allowlist");

    verdict.upstream_query = upstream_query_for(pkt.get(), question);
    if (verdict.upstream_query.empty())  // out of memory in ldns
        return refuse(std::move(verdict), pkt.get(), LDNS_RCODE_SERVFAIL, "internal error");
    verdict.forward = true;
    return verdict;
}

DnsAnswerVerdict DnsGate::check_answer(std::span<const std::uint8_t> query,
                                       std::span<const std::uint8_t> upstream) const {
    DnsAnswerVerdict verdict;
    Pkt asked = parse(query);
    if (!asked) return verdict;
    verdict.reply = error_reply(asked.get(), LDNS_RCODE_SERVFAIL);
    // Only what check_query would forward gets an answer through: the gate never trusts the
    // caller to have asked it first.
    DnsQueryVerdict again = check_query(query);
    if (!again.forward) return verdict;
    const ldns_rr* question = only_question(asked.get());

    Pkt answer = parse(upstream);
    if (!answer || !ldns_pkt_qr(answer.get()) || ldns_pkt_id(answer.get()) != ldns_pkt_id(asked.get()))
        return verdict;
    const ldns_rr* echoed = only_question(answer.get());
    if (!echoed || !same_name(ldns_rr_owner(echoed), ldns_rr_owner(question)) ||
        ldns_rr_get_type(echoed) != ldns_rr_get_type(question) ||
        ldns_rr_get_class(echoed) != ldns_rr_get_class(question))
        return verdict;
    verdict.matched = true;

    // A truncated answer may miss records; without a TCP upstream the cell cannot get more.
    if (ldns_pkt_tc(answer.get())) return verdict;
    ldns_pkt_rcode rcode = ldns_pkt_get_rcode(answer.get());
    if (rcode != LDNS_RCODE_NOERROR && rcode != LDNS_RCODE_NXDOMAIN) return verdict;

    const ldns_rr_list* records = ldns_pkt_answer(answer.get());
    Chain chain = follow_chain(records, ldns_rr_owner(question));
    if (!chain.ok) return verdict;

    Pkt reply = reply_skeleton(asked.get(), rcode, true);
    if (!reply) return verdict;
    for (const ldns_rr* cname : chain.cnames)
        if (!push_copy(reply.get(), cname, std::min(ldns_rr_ttl(cname), config_.max_ttl)))
            return verdict;

    // Addresses only for a successful A or AAAA question: for a CNAME question the cell gets the
    // chain and no address the ruleset would have to admit.
    std::vector<int> groups = groups_for(again.name);
    for (std::size_t i = 0; rcode == LDNS_RCODE_NOERROR && records &&
                            i < ldns_rr_list_rr_count(records);
         ++i) {
        const ldns_rr* rr = ldns_rr_list_rr(records, i);
        if (!is_address_of(rr, again.qtype, chain.last)) continue;
        std::string address = rdf_text(ldns_rr_rdf(rr, 0));
        if (address.empty()) continue;
        if (address_always_denied_for_names(address, config_.host_addresses)) {
            verdict.withheld.push_back(address);
            continue;
        }
        std::uint32_t ttl = std::min(chain.min_ttl, ldns_rr_ttl(rr));
        unsigned clamped = std::clamp<std::uint32_t>(ttl, config_.min_ttl, config_.max_ttl);
        // The cell must not cache the address longer than the set admits it.
        if (!push_copy(reply.get(), rr, std::min<std::uint32_t>(ldns_rr_ttl(rr), clamped)))
            return verdict;
        for (int group : groups)
            verdict.additions.push_back(
                {group, address, ldns_rr_get_type(rr) == LDNS_RR_TYPE_AAAA, clamped});
    }

    std::vector<std::uint8_t> wire = to_wire(reply.get());
    if (wire.empty()) {
        verdict.additions.clear();
        return verdict;
    }
    verdict.reply = std::move(wire);
    return verdict;
}

std::vector<std::uint8_t> dns_error_reply(std::span<const std::uint8_t> query, std::uint8_t rcode) {
    if (query.size() >= LDNS_HEADER_SIZE && LDNS_QR_WIRE(query.data())) return {};
    Pkt pkt = parse(query);
    return pkt ? error_reply(pkt.get(), rcode) : std::vector<std::uint8_t>{};
}

std::vector<std::uint8_t> dns_fit_udp_reply(std::span<const std::uint8_t> query,
                                            std::vector<std::uint8_t> reply) {
    std::size_t limit = kPlainUdpLimit;
    Pkt asked = parse(query);
    if (asked && ldns_pkt_edns(asked.get()))
        limit = std::max<std::size_t>(limit, ldns_pkt_edns_udp_size(asked.get()));
    if (reply.size() <= limit) return reply;

    Pkt cut = parse(reply);
    if (!cut) return {};
    // Keep header and question only: a partial RRset could be cached as if it were complete.
    for (ldns_pkt_section section : {LDNS_SECTION_ANSWER, LDNS_SECTION_AUTHORITY,
                                     LDNS_SECTION_ADDITIONAL}) {
        ldns_rr_list* empty = ldns_rr_list_new();
        if (!empty) return {};
        ldns_rr_list* old = nullptr;
        if (section == LDNS_SECTION_ANSWER) {
            old = ldns_pkt_answer(cut.get());
            ldns_pkt_set_answer(cut.get(), empty);
            ldns_pkt_set_ancount(cut.get(), 0);
        } else if (section == LDNS_SECTION_AUTHORITY) {
            old = ldns_pkt_authority(cut.get());
            ldns_pkt_set_authority(cut.get(), empty);
            ldns_pkt_set_nscount(cut.get(), 0);
        } else {
            old = ldns_pkt_additional(cut.get());
            ldns_pkt_set_additional(cut.get(), empty);
            ldns_pkt_set_arcount(cut.get(), 0);
        }
        ldns_rr_list_deep_free(old);
    }
    ldns_pkt_set_tc(cut.get(), true);
    return to_wire(cut.get());
}

std::string dns_type_name(std::uint16_t qtype) {
    std::unique_ptr<char, MallocFree> text(ldns_rr_type2str(static_cast<ldns_rr_type>(qtype)));
    return text ? std::string(text.get()) : "TYPE" + std::to_string(qtype);
}

}  // namespace jobcell
