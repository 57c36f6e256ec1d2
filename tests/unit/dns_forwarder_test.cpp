// run_dns_forwarder on loopback sockets with a fake resolver that records every question it
// is asked: what matters is what reaches upstream (nothing, for an unlisted name) and that
// addresses are in the sets before the cell sees them. Every receive has a timeout.
#include <arpa/inet.h>
#include "net/ldns.hpp"
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "net/dns_forwarder.hpp"
#include "sandbox/error.hpp"
#include "sandbox/fd.hpp"

using namespace jobcell;
using namespace std::chrono_literals;

namespace {

using Wire = std::vector<std::uint8_t>;

struct PktFree {
    void operator()(ldns_pkt* p) const noexcept { ldns_pkt_free(p); }
};
struct MallocFree {
    void operator()(void* p) const noexcept { std::free(p); }
};
using Pkt = std::unique_ptr<ldns_pkt, PktFree>;

Wire wire_of(const ldns_pkt* pkt) {
    std::uint8_t* raw = nullptr;
    std::size_t size = 0;
    if (ldns_pkt2wire(&raw, pkt, &size) != LDNS_STATUS_OK) return {};
    std::unique_ptr<std::uint8_t, MallocFree> owned(raw);
    return {raw, raw + size};
}

Pkt parse(const Wire& wire) {
    ldns_pkt* raw = nullptr;
    if (wire.empty() || ldns_wire2pkt(&raw, wire.data(), wire.size()) != LDNS_STATUS_OK) return {};
    return Pkt(raw);
}

Wire query(const std::string& name, ldns_rr_type type, std::uint16_t id) {
    ldns_pkt* raw = nullptr;
    REQUIRE(ldns_pkt_query_new_frm_str(&raw, name.c_str(), type, LDNS_RR_CLASS_IN, LDNS_RD) == LDNS_STATUS_OK);
    Pkt pkt(raw);
    ldns_pkt_set_id(pkt.get(), id);
    return wire_of(pkt.get());
}

std::string question_text(const ldns_pkt* pkt) {
    const ldns_rr_list* q = ldns_pkt_question(pkt);
    if (!q || ldns_rr_list_rr_count(q) != 1) return "?";
    const ldns_rr* rr = ldns_rr_list_rr(q, 0);
    std::unique_ptr<char, MallocFree> owner(ldns_rdf2str(ldns_rr_owner(rr)));
    return std::string(owner.get()) + " " + dns_type_name(ldns_rr_get_type(rr));
}

std::vector<std::string> answer_texts(const Wire& wire) {
    Pkt pkt = parse(wire);
    std::vector<std::string> out;
    if (!pkt) return out;
    const ldns_rr_list* list = ldns_pkt_answer(pkt.get());
    for (std::size_t i = 0; list && i < ldns_rr_list_rr_count(list); ++i) {
        std::unique_ptr<char, MallocFree> rdata(ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(list, i), 0)));
        out.emplace_back(rdata.get());
    }
    return out;
}

int rcode_of(const Wire& wire) {
    Pkt pkt = parse(wire);
    return pkt ? ldns_pkt_get_rcode(pkt.get()) : -1;
}

std::uint16_t id_of(const Wire& wire) {
    Pkt pkt = parse(wire);
    return pkt ? ldns_pkt_id(pkt.get()) : 0;
}

sockaddr_in loopback(std::uint16_t port = 0) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

std::uint16_t port_of(int fd) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    return ntohs(a.sin_port);
}

Fd bound_socket(int type) {
    Fd fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
    REQUIRE(fd.valid());
    sockaddr_in a = loopback();
    REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    return fd;
}

Fd connected_udp(std::uint16_t port) {
    Fd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd.valid());
    sockaddr_in a = loopback(port);
    REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    return fd;
}

bool readable(int fd, std::chrono::milliseconds timeout) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
}

// A resolver on 127.0.0.1 that answers A/AAAA questions from a table and records every
// question it gets, in order. `silent` makes it record without answering.
class FakeUpstream {
public:
    explicit FakeUpstream(bool silent = false) : socket_(bound_socket(SOCK_DGRAM)), silent_(silent) {
        thread_ = std::thread([this] { serve(); });
    }
    ~FakeUpstream() {
        stop_ = true;
        thread_.join();
    }
    std::uint16_t port() const { return port_of(socket_.get()); }
    std::vector<std::string> questions() {
        std::lock_guard lock(mutex_);
        return questions_;
    }
    void set(const std::string& name, std::vector<std::string> records) {
        std::lock_guard lock(mutex_);
        records_[name] = std::move(records);
    }

private:
    void serve() {
        Wire buffer(65536);
        while (!stop_) {
            if (!readable(socket_.get(), 20ms)) continue;
            sockaddr_storage from{};
            socklen_t from_len = sizeof from;
            ssize_t n = ::recvfrom(socket_.get(), buffer.data(), buffer.size(), MSG_DONTWAIT,
                                   reinterpret_cast<sockaddr*>(&from), &from_len);
            if (n <= 0) continue;
            Pkt q = parse(Wire(buffer.begin(), buffer.begin() + n));
            if (!q) continue;
            Wire reply = answer(q.get());
            if (!silent_ && !reply.empty())
                ::sendto(socket_.get(), reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from),
                         from_len);
        }
    }

    Wire answer(const ldns_pkt* q) {
        std::lock_guard lock(mutex_);
        std::string asked = question_text(q);
        questions_.push_back(asked);
        Pkt a(ldns_pkt_new());
        ldns_pkt_set_id(a.get(), ldns_pkt_id(q));
        ldns_pkt_set_qr(a.get(), true);
        ldns_pkt_set_ra(a.get(), true);
        ldns_pkt_push_rr(a.get(), LDNS_SECTION_QUESTION, ldns_rr_clone(ldns_rr_list_rr(ldns_pkt_question(q), 0)));
        std::string name = asked.substr(0, asked.find(' '));
        auto found = records_.find(name);
        if (found == records_.end()) {
            ldns_pkt_set_rcode(a.get(), LDNS_RCODE_NXDOMAIN);
        } else {
            for (const std::string& text : found->second) {
                ldns_rr* rr = nullptr;
                if (ldns_rr_new_frm_str(&rr, text.c_str(), 0, nullptr, nullptr) == LDNS_STATUS_OK)
                    ldns_pkt_push_rr(a.get(), LDNS_SECTION_ANSWER, rr);
            }
        }
        return wire_of(a.get());
    }

    Fd socket_;
    bool silent_;
    std::atomic<bool> stop_{false};
    std::mutex mutex_;
    std::vector<std::string> questions_;
    std::map<std::string, std::vector<std::string>> records_;
    std::thread thread_;
};

DnsGateConfig gate_config() {
    AllowEntry host;
    host.kind = AllowEntry::Kind::host;
    host.name = "example.com";
    host.text = "example.com";
    AllowEntry internal = host;
    internal.name = internal.text = "internal.example.com";
    DnsGateConfig config;
    config.entries = {host, internal};
    config.entry_group = {0, 0};
    return config;
}

// The forwarder in a thread, with its cell-side listeners, upstream sockets and a stop pipe.
class Harness {
public:
    explicit Harness(const std::vector<std::uint16_t>& upstream_ports)
        : gate_(gate_config()), udp_(bound_socket(SOCK_DGRAM)), tcp_(bound_socket(SOCK_STREAM)),
          stop_(make_pipe()) {
        REQUIRE(::listen(tcp_.get(), 8) == 0);
        for (std::uint16_t port : upstream_ports) upstream_.push_back(connected_udp(port));
        sockets_.udp_listen = udp_.get();
        sockets_.tcp_listen = tcp_.get();
        for (const Fd& fd : upstream_) sockets_.upstream_udp.push_back(fd.get());
        sockets_.stop = stop_.read.get();
    }
    ~Harness() {
        if (result_.valid()) stop();
    }

    // Starts the loop. `add` replaces the default recorder of set additions.
    void start(DnsAddAddresses add = {}) {
        add_ = add ? std::move(add) : [this](const std::vector<DnsSetAddition>& additions) {
            std::lock_guard lock(mutex_);
            for (const auto& a : additions) added_.push_back(a.address + "/" + std::to_string(a.ttl_seconds));
        };
        log_ = [this](const std::string& line) {
            std::lock_guard lock(mutex_);
            logs_.push_back(line);
        };
        result_ = std::async(std::launch::async, [this] { return run_dns_forwarder(gate_, sockets_, add_, log_); });
    }

    // Ends the loop through the stop fd; fails the test if it does not end promptly.
    DnsStats stop() {
        stop_.write.reset();
        REQUIRE(result_.wait_for(3s) == std::future_status::ready);
        return result_.get();
    }

    int udp_fd() const { return udp_.get(); }

    Wire udp_exchange(const Wire& message, std::chrono::milliseconds timeout = 3000ms) {
        Fd client = connected_udp(port_of(udp_.get()));
        REQUIRE(::send(client.get(), message.data(), message.size(), 0) == static_cast<ssize_t>(message.size()));
        if (!readable(client.get(), timeout)) return {};
        Wire reply(65536);
        ssize_t n = ::recv(client.get(), reply.data(), reply.size(), MSG_DONTWAIT);
        reply.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
        return reply;
    }

    Fd tcp_connect() {
        Fd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        REQUIRE(client.valid());
        sockaddr_in a = loopback(port_of(tcp_.get()));
        REQUIRE(::connect(client.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        return client;
    }

    static void tcp_send(int fd, const Wire& message) {
        Wire framed{static_cast<std::uint8_t>(message.size() >> 8), static_cast<std::uint8_t>(message.size())};
        framed.insert(framed.end(), message.begin(), message.end());
        REQUIRE(write_all(fd, framed.data(), framed.size()));
    }

    // One framed message, or empty after the timeout. Reads exactly the frame's bytes and no
    // more: pipelined replies can arrive in one segment, and the next call must find the rest.
    static Wire tcp_receive(int fd, std::chrono::milliseconds timeout = 3000ms) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        auto read_exactly = [&](std::size_t count) -> std::optional<Wire> {
            Wire got(count);
            std::size_t have = 0;
            while (have < count) {
                auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
                if (left <= 0ms || !readable(fd, left)) return std::nullopt;
                ssize_t n = ::recv(fd, got.data() + have, count - have, MSG_DONTWAIT);
                if (n <= 0) return std::nullopt;
                have += static_cast<std::size_t>(n);
            }
            return got;
        };
        std::optional<Wire> length = read_exactly(2);
        if (!length) return {};
        std::optional<Wire> message = read_exactly((std::size_t{(*length)[0]} << 8) | (*length)[1]);
        return message ? *message : Wire{};
    }

    std::vector<std::string> added() {
        std::lock_guard lock(mutex_);
        return added_;
    }
    std::vector<std::string> logs() {
        std::lock_guard lock(mutex_);
        return logs_;
    }

private:
    DnsGate gate_;
    Fd udp_;
    Fd tcp_;
    std::vector<Fd> upstream_;
    Pipe stop_;
    DnsForwarderSockets sockets_;
    DnsAddAddresses add_;
    DnsLog log_;
    std::future<DnsStats> result_;
    std::mutex mutex_;
    std::vector<std::string> added_;
    std::vector<std::string> logs_;
};

bool contains(const std::vector<std::string>& lines, const std::string& line) {
    for (const auto& l : lines)
        if (l == line) return true;
    return false;
}

}  // namespace

TEST_CASE("dns forwarder: an allowed query is answered from upstream, sets first", "[dns]") {
    FakeUpstream upstream;
    upstream.set("example.com.", {"example.com. 300 IN A 93.184.216.34"});
    Harness harness({upstream.port()});
    harness.start();

    Wire reply = harness.udp_exchange(query("example.com.", LDNS_RR_TYPE_A, 0x1111));
    // add_addresses runs before the reply is sent, so it has run by the time the reply is here.
    std::vector<std::string> added = harness.added();
    REQUIRE_FALSE(reply.empty());
    CHECK(id_of(reply) == 0x1111);
    CHECK(rcode_of(reply) == LDNS_RCODE_NOERROR);
    CHECK(answer_texts(reply) == std::vector<std::string>{"93.184.216.34"});
    CHECK(added == std::vector<std::string>{"93.184.216.34/300"});
    CHECK(upstream.questions() == std::vector<std::string>{"example.com. A"});

    DnsStats stats = harness.stop();
    CHECK(stats.forwarded == 1);
    CHECK(stats.refused == 0);
    CHECK(stats.failed == 0);
}

TEST_CASE("dns forwarder: unlisted names never reach upstream", "[dns]") {
    FakeUpstream upstream;
    upstream.set("example.com.", {"example.com. 300 IN A 93.184.216.34"});
    Harness harness({upstream.port()});
    harness.start();

    Wire refused = harness.udp_exchange(query("c2VjcmV0.attacker.example.", LDNS_RR_TYPE_A, 0x2222));
    REQUIRE_FALSE(refused.empty());
    CHECK(rcode_of(refused) == LDNS_RCODE_REFUSED);
    CHECK(id_of(refused) == 0x2222);
    Wire txt = harness.udp_exchange(query("example.com.", LDNS_RR_TYPE_TXT, 0x2223));
    CHECK(rcode_of(txt) == LDNS_RCODE_REFUSED);
    // Garbage, then a short packet: no crash, no forwarding.
    CHECK(harness.udp_exchange(Wire(40, 0x41), 300ms).size() <= 12);
    CHECK(harness.udp_exchange(Wire(3, 0), 300ms).empty());
    // An allowed query afterwards, so everything earlier has surely been handled.
    Wire allowed = harness.udp_exchange(query("example.com.", LDNS_RR_TYPE_A, 0x2224));
    CHECK(rcode_of(allowed) == LDNS_RCODE_NOERROR);

    CHECK(upstream.questions() == std::vector<std::string>{"example.com. A"});
    std::vector<std::string> logs = harness.logs();
    CHECK(contains(logs, "dns: refused c2vjcmv0.attacker.example (A): not on the allowlist"));
    CHECK(contains(logs, "dns: refused example.com (TXT): type TXT not served"));

    DnsStats stats = harness.stop();
    CHECK(stats.forwarded == 1);
    CHECK(stats.refused == 4);
    REQUIRE(stats.refused_names.size() == 4);
    CHECK(stats.refused_names[0] == "c2vjcmv0.attacker.example (A)");
}

TEST_CASE("dns forwarder: TCP queries", "[dns]") {
    FakeUpstream upstream;
    upstream.set("example.com.", {"example.com. 300 IN A 93.184.216.34"});
    Harness harness({upstream.port()});
    harness.start();

    Fd client = harness.tcp_connect();
    // Two pipelined queries on one connection, one of them refused.
    Harness::tcp_send(client.get(), query("attacker.example.", LDNS_RR_TYPE_AAAA, 0x3331));
    Harness::tcp_send(client.get(), query("example.com.", LDNS_RR_TYPE_A, 0x3332));
    Wire first = Harness::tcp_receive(client.get());
    Wire second = Harness::tcp_receive(client.get());
    REQUIRE_FALSE(first.empty());
    REQUIRE_FALSE(second.empty());
    CHECK(id_of(first) == 0x3331);
    CHECK(rcode_of(first) == LDNS_RCODE_REFUSED);
    CHECK(id_of(second) == 0x3332);
    CHECK(answer_texts(second) == std::vector<std::string>{"93.184.216.34"});
    CHECK(harness.added() == std::vector<std::string>{"93.184.216.34/300"});
    CHECK(upstream.questions() == std::vector<std::string>{"example.com. A"});

    SECTION("a zero-length frame ends the connection") {
        Wire zero{0, 0};
        REQUIRE(write_all(client.get(), zero.data(), zero.size()));
        CHECK(Harness::tcp_receive(client.get(), 2000ms).empty());
    }
    SECTION("half-closed after the query: the reply still comes") {
        Fd other = harness.tcp_connect();
        Harness::tcp_send(other.get(), query("example.com.", LDNS_RR_TYPE_A, 0x3333));
        ::shutdown(other.get(), SHUT_WR);
        Wire reply = Harness::tcp_receive(other.get());
        CHECK(id_of(reply) == 0x3333);
    }
    harness.stop();
}

TEST_CASE("dns forwarder: withheld addresses are logged, a failing set update is SERVFAIL", "[dns]") {
    FakeUpstream upstream;
    upstream.set("internal.example.com.",
                 {"internal.example.com. 300 IN A 169.254.169.254", "internal.example.com. 300 IN A 93.184.216.34"});
    upstream.set("example.com.", {"example.com. 300 IN A 93.184.216.34"});
    Harness harness({upstream.port()});
    harness.start([](const std::vector<DnsSetAddition>& additions) {
        for (const auto& a : additions)
            if (a.address == "93.184.216.34" && a.ttl_seconds == 300) throw Error("nft: set names4_0 is full");
    });

    Wire reply = harness.udp_exchange(query("internal.example.com.", LDNS_RR_TYPE_A, 0x4444));
    CHECK(rcode_of(reply) == LDNS_RCODE_SERVFAIL);
    CHECK(answer_texts(reply).empty());
    std::vector<std::string> logs = harness.logs();
    CHECK(contains(logs, "dns: withheld 169.254.169.254 for internal.example.com: always-denied range"));
    CHECK(contains(logs, "dns: SERVFAIL for internal.example.com (A): adding its addresses failed: "
                         "nft: set names4_0 is full"));
    DnsStats stats = harness.stop();
    CHECK(stats.withheld == 1);
    CHECK(stats.failed == 1);
}

TEST_CASE("dns forwarder: a silent resolver is retried on the next, then SERVFAIL", "[dns]") {
    FakeUpstream silent(true);
    FakeUpstream good;
    good.set("example.com.", {"example.com. 300 IN A 93.184.216.34"});

    SECTION("the second resolver answers after the retry") {
        Harness harness({silent.port(), good.port()});
        harness.start();
        auto started = std::chrono::steady_clock::now();
        Wire reply = harness.udp_exchange(query("example.com.", LDNS_RR_TYPE_A, 0x5555), 4000ms);
        auto took = std::chrono::steady_clock::now() - started;
        CHECK(answer_texts(reply) == std::vector<std::string>{"93.184.216.34"});
        CHECK(took >= 1400ms);
        CHECK(took < 3000ms);
        CHECK(silent.questions() == std::vector<std::string>{"example.com. A"});
        CHECK(good.questions() == std::vector<std::string>{"example.com. A"});
        harness.stop();
    }
    SECTION("nobody answers: SERVFAIL within about 4 s") {
        Harness harness({silent.port()});
        harness.start();
        Wire reply = harness.udp_exchange(query("example.com.", LDNS_RR_TYPE_A, 0x5556), 6000ms);
        CHECK(rcode_of(reply) == LDNS_RCODE_SERVFAIL);
        CHECK(id_of(reply) == 0x5556);
        // Retried on the only resolver there is.
        CHECK(silent.questions().size() >= 2);
        DnsStats stats = harness.stop();
        CHECK(stats.failed == 1);
    }
}

TEST_CASE("dns forwarder: the stop fd ends the loop", "[dns]") {
    Harness harness({});
    harness.start();
    // Without resolvers an allowed name is SERVFAIL right away.
    CHECK(rcode_of(harness.udp_exchange(query("example.com.", LDNS_RR_TYPE_A, 1))) == LDNS_RCODE_SERVFAIL);
    Fd idle = harness.tcp_connect();  // an open connection does not keep it alive
    auto started = std::chrono::steady_clock::now();
    harness.stop();
    CHECK(std::chrono::steady_clock::now() - started < 1500ms);
}

TEST_CASE("dns forwarder: nameservers from resolv.conf", "[dns]") {
    std::vector<sockaddr_storage> found = resolvers_from_resolv_conf(
        "# generated\n"
        "nameserver 192.0.2.53\n"
        "search example.com\n"
        "options edns0 trust-ad\n"
        "  nameserver\t2001:db8::53  # trailing\n"
        "nameserver not-an-address\n"
        "nameserver\n"
        "; nameserver 198.51.100.1\n"
        "nameservers 198.51.100.2\n"
        "nameserver 198.51.100.3");
    REQUIRE(found.size() == 3);
    REQUIRE(found[0].ss_family == AF_INET);
    auto* v4 = reinterpret_cast<sockaddr_in*>(&found[0]);
    char text[INET6_ADDRSTRLEN] = {};
    CHECK(std::string(inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text)) == "192.0.2.53");
    CHECK(ntohs(v4->sin_port) == 53);
    REQUIRE(found[1].ss_family == AF_INET6);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&found[1]);
    CHECK(std::string(inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text)) == "2001:db8::53");
    CHECK(ntohs(v6->sin6_port) == 53);
    CHECK(reinterpret_cast<sockaddr_in*>(&found[2])->sin_addr.s_addr == inet_addr("198.51.100.3"));
    CHECK(resolvers_from_resolv_conf("").empty());
}

TEST_CASE("dns forwarder: a flood of questions is served at the budget's rate, not as fast as sent", "[dns]") {
    FakeUpstream upstream;
    upstream.set("example.com.", {"example.com. 300 IN A 93.184.216.34"});
    Harness harness({upstream.port()});
    const auto started = std::chrono::steady_clock::now();
    harness.start();
    // room for the whole flood in the listener's buffer, so only the budget can hold it back
    const int room = 8 << 20;
    if (::setsockopt(harness.udp_fd(), SOL_SOCKET, SO_RCVBUFFORCE, &room, sizeof room) != 0)
        ::setsockopt(harness.udp_fd(), SOL_SOCKET, SO_RCVBUF, &room, sizeof room);
    Fd flood = connected_udp(port_of(harness.udp_fd()));
    const Wire unlisted = query("flood.attacker.example.", LDNS_RR_TYPE_A, 0x3333);
    int sent = 0;
    for (int i = 0; i < 1200; ++i) sent += ::send(flood.get(), unlisted.data(), unlisted.size(), 0) > 0;
    REQUIRE(sent == 1200);
    std::this_thread::sleep_for(300ms);
    // once the flood is over, the cell is served again within a few seconds
    Wire reply;
    for (int i = 0; i < 12 && reply.empty(); ++i) reply = harness.udp_exchange(query("example.com.", LDNS_RR_TYPE_A, 0x4444), 1000ms);
    CHECK(rcode_of(reply) == LDNS_RCODE_NOERROR);
    DnsStats stats = harness.stop();
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
    // the budget: a burst of 400, then 200 a second (net/dns_forwarder.cpp)
    const double most = 400 + 200 * elapsed.count() + 2;
    CHECK(stats.refused >= 1);
    CHECK(stats.refused + stats.forwarded <= most);
}
