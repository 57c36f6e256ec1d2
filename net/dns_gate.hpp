// The allowlisting DNS forwarder's decisions, on wire-format messages parsed with ldns. Pure:
// no sockets. A question is forwarded upstream only when its name is on the allowlist and its
// type is A, AAAA or CNAME; anything else is answered here (REFUSED, FORMERR, NOTIMP) without a
// byte leaving the host, so names cannot carry data out. An upstream answer is passed on only
// for the question that was asked; its CNAME chain is followed from the question's name, and
// the A/AAAA addresses at the end of the chain become set additions for the question's port
// groups, for the record's TTL (clamped). Addresses in always-denied ranges are removed from
// the reply and never added.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "net/allowlist.hpp"

namespace jobcell {

struct DnsQueryVerdict {
    bool forward = false;               // true: send the query upstream
    std::vector<std::uint8_t> reply;    // !forward: the answer to send back to the cell
    std::string name;                   // normalised question name ("" when unparsable)
    std::uint16_t qtype = 0;
    std::string reason;                 // !forward: why, for the log ("not on the allowlist")
    // forward: what goes upstream, rebuilt from the question alone (the cell's id still in it),
    // so nothing else the cell put in its message (extra sections, EDNS options) leaves the host.
    std::vector<std::uint8_t> upstream_query;
};

struct DnsSetAddition {
    int group = 0;            // index into EgressRuleset::groups
    std::string address;      // plain text
    bool ipv6 = false;
    unsigned ttl_seconds = 0; // already clamped
};

struct DnsAnswerVerdict {
    std::vector<std::uint8_t> reply;        // what the cell gets (SERVFAIL when unusable)
    std::vector<DnsSetAddition> additions;  // to add before the reply is sent
    std::vector<std::string> withheld;      // addresses left out: always denied
    // Whether `upstream` answers `query` at all (QR set, same id, same question). The forwarder
    // ignores unmatched packets and keeps waiting, so a stray or spoofed packet cannot end a
    // pending query; `reply` is SERVFAIL for them.
    bool matched = false;
};

struct DnsGateConfig {
    std::vector<AllowEntry> entries;        // host and suffix entries matter
    std::vector<int> entry_group;           // EgressRuleset::entry_group, same length
    std::vector<std::string> host_addresses;
    // Open mode: every host name is forwarded (A, AAAA and CNAME still the only types), and no
    // answer adds to a set, since the ruleset admits every public address anyway. Answers into
    // always-denied ranges are still withheld.
    bool every_name = false;
    unsigned min_ttl = 30;                  // seconds; short TTLs would race the connect()
    unsigned max_ttl = 3600;
};

class DnsGate {
public:
    explicit DnsGate(DnsGateConfig config);
    DnsQueryVerdict check_query(std::span<const std::uint8_t> query) const;
    // `query` is the cell's query as forwarded (same id); `upstream` the resolver's reply.
    DnsAnswerVerdict check_answer(std::span<const std::uint8_t> query,
                                  std::span<const std::uint8_t> upstream) const;

private:
    std::vector<int> groups_for(const std::string& name) const;

    DnsGateConfig config_;
};

// The answer with `rcode` (SERVFAIL for a timeout) to a query: same id and question, nothing
// else. Empty when `query` is not a DNS query at all.
std::vector<std::uint8_t> dns_error_reply(std::span<const std::uint8_t> query, std::uint8_t rcode);

// `reply` as it may go back over UDP to the sender of `query`: unchanged when it fits the
// sender's buffer (512 bytes, or its EDNS size), otherwise only the header and question with TC
// set, so the stub retries over TCP.
std::vector<std::uint8_t> dns_fit_udp_reply(std::span<const std::uint8_t> query,
                                            std::vector<std::uint8_t> reply);

// "A", "AAAA", "TXT", "TYPE65280": for log lines.
std::string dns_type_name(std::uint16_t qtype);

}  // namespace jobcell
