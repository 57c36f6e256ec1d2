#include "net/dns_forwarder.hpp"

#include "net/ldns.hpp"
#include <netdb.h>
#include <poll.h>
#include <sys/random.h>

#include <algorithm>
#include <cmath>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <list>
#include <map>
#include <memory>
#include <sstream>

#include "sandbox/error.hpp"
#include "sandbox/fd.hpp"

namespace jobcell {
namespace {

using Clock = std::chrono::steady_clock;

// A resolver that has not answered in this time is asked again (the next one, if any).
constexpr auto kRetryAfter = std::chrono::milliseconds(1500);
// Stubs give up after about 5 s; a SERVFAIL before that lets them try their next server.
constexpr auto kGiveUpAfter = std::chrono::milliseconds(4000);
// A TCP connection with nothing in flight is closed after this long without traffic.
constexpr auto kTcpIdle = std::chrono::seconds(10);
// Memory bounds: the cell decides how much it sends, the forwarder how much it keeps.
constexpr std::size_t kMaxPending = 256;
constexpr std::size_t kMaxTcpConnections = 16;
constexpr std::size_t kMaxTcpOutput = 128 * 1024;
constexpr std::size_t kMaxMessage = 65535;
// Datagrams taken from one socket per poll round, so one busy socket cannot starve the rest.
constexpr int kBurst = 64;
// Log lines about refusals; past this the counters go on but the log stays quiet.
// Questions the cell may ask per second (a token bucket): the forwarder runs outside the cell's
// cgroup, so without this a job could spend the host's cpu on it beyond its own limit and
// flood the host's resolver. Past the budget the listeners are not read at all: the kernel
// drops what overflows their buffers, at no cost to the forwarder.
constexpr double kQueriesPerSecond = 200;
constexpr double kQueryBurst = 400;
constexpr unsigned kMaxLoggedRefusals = 1000;
constexpr std::size_t kMaxRefusedNames = 32;

struct Client {
    bool tcp = false;
    sockaddr_storage address{};  // UDP: where the query came from
    socklen_t address_len = 0;
    std::uint64_t connection = 0;  // TCP: the connection's serial
};

struct Pending {
    Client client;
    std::vector<std::uint8_t> query;           // as the cell sent it (its id)
    std::vector<std::uint8_t> upstream_query;  // rebuilt, with our id
    std::string name;
    std::uint16_t qtype = 0;
    std::size_t upstream = 0;                  // the resolver asked last
    Clock::time_point next_retry;
    Clock::time_point give_up;
    std::uint64_t serial = 0;                  // arrival order, to drop the oldest
};

struct TcpConnection {
    Fd fd;
    std::uint64_t serial = 0;
    std::vector<std::uint8_t> in;
    std::vector<std::uint8_t> out;
    Clock::time_point idle_deadline;
    bool peer_done = false;  // the cell shut down its side; close once the replies are out
    bool dead = false;
};

std::string describe(const std::string& name, std::uint16_t qtype) {
    return (name.empty() ? std::string("-") : name) + " (" + dns_type_name(qtype) + ")";
}

std::uint16_t wire_id(std::span<const std::uint8_t> wire) {
    return wire.size() >= LDNS_HEADER_SIZE ? LDNS_ID_WIRE(wire.data()) : 0;
}

void set_wire_id(std::vector<std::uint8_t>& wire, std::uint16_t id) {
    if (wire.size() >= LDNS_HEADER_SIZE) LDNS_ID_SET(wire.data(), id);
}

class QueryBudget {
public:
    void refill(Clock::time_point now) {
        const std::chrono::duration<double> passed = now - last_;
        last_ = now;
        tokens_ = std::min(kQueryBurst, tokens_ + passed.count() * kQueriesPerSecond);
    }
    bool available() const { return tokens_ >= 1; }
    bool take() {
        if (!available()) return false;
        tokens_ -= 1;
        return true;
    }
    // Milliseconds until one question may be asked again (0 when one may now).
    int wait_ms() const {
        return available() ? 0 : static_cast<int>(std::ceil((1 - tokens_) * 1000 / kQueriesPerSecond));
    }

private:
    double tokens_ = kQueryBurst;
    Clock::time_point last_ = Clock::now();
};

class Forwarder {
public:
    Forwarder(const DnsGate& gate, const DnsForwarderSockets& sockets,
              const DnsAddAddresses& add_addresses, const DnsLog& log)
        : gate_(gate), sockets_(sockets), add_addresses_(add_addresses), log_(log),
          buffer_(kMaxMessage + 1) {}

    DnsStats run();

private:
    std::vector<pollfd> poll_set() const;
    int poll_timeout(Clock::time_point now) const;
    void serve_udp();
    void accept_tcp();
    void serve_tcp(TcpConnection& connection, short events);
    void take_frames(TcpConnection& connection);
    void flush(TcpConnection& connection);
    void serve_upstream(std::size_t index);
    void handle_query(std::span<const std::uint8_t> query, const Client& client);
    void forward(const DnsQueryVerdict& verdict, std::span<const std::uint8_t> query,
                 const Client& client);
    void handle_answer(std::span<const std::uint8_t> answer);
    void finish(Pending& pending, const DnsAnswerVerdict& verdict);
    void fail(const Pending& pending, const std::string& why);
    void send_upstream(Pending& pending);
    void reply(const Client& client, std::span<const std::uint8_t> query,
               std::vector<std::uint8_t> message);
    void run_timers(Clock::time_point now);
    void drop_oldest_pending();
    void note_refused(const DnsQueryVerdict& verdict);
    void log(const std::string& line) const;
    std::uint16_t fresh_id();
    TcpConnection* connection(std::uint64_t serial);
    bool in_flight(std::uint64_t serial) const;

    const DnsGate& gate_;
    const DnsForwarderSockets& sockets_;
    const DnsAddAddresses& add_addresses_;
    const DnsLog& log_;
    DnsStats stats_;
    std::vector<std::uint8_t> buffer_;
    std::map<std::uint16_t, Pending> pending_;  // by the id sent upstream
    std::list<TcpConnection> connections_;
    std::uint64_t next_serial_ = 1;
    unsigned logged_refusals_ = 0;
    QueryBudget budget_;
};

void Forwarder::log(const std::string& line) const {
    if (!log_) return;
    try {
        log_(line);
    } catch (...) {
        // A failing log sink must not take DNS down with it.
    }
}

std::vector<pollfd> Forwarder::poll_set() const {
    std::vector<pollfd> fds;
    fds.push_back({sockets_.stop, POLLIN, 0});
    // Past the question budget the cell's sockets wait (poll ignores a negative fd).
    const bool asking = budget_.available();
    fds.push_back({asking ? sockets_.udp_listen : -1, POLLIN, 0});
    fds.push_back({sockets_.tcp_listen, POLLIN, 0});
    for (int fd : sockets_.upstream_udp) fds.push_back({fd, POLLIN, 0});
    for (const TcpConnection& c : connections_) {
        short events = c.peer_done || !asking || c.in.size() > kMaxTcpOutput ? 0 : POLLIN;
        if (!c.out.empty()) events |= POLLOUT;
        // A half-closed connection waiting for upstream would report POLLHUP on every round.
        fds.push_back({events != 0 ? c.fd.get() : -1, events, 0});
    }
    return fds;
}

int Forwarder::poll_timeout(Clock::time_point now) const {
    Clock::time_point next = now + std::chrono::seconds(1);
    for (const auto& [id, p] : pending_) next = std::min({next, p.next_retry, p.give_up});
    for (const TcpConnection& c : connections_) next = std::min(next, c.idle_deadline);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count();
    if (!budget_.available()) ms = std::min<long long>(ms, budget_.wait_ms());
    return static_cast<int>(std::clamp<long long>(ms + 1, 0, 1000));
}

DnsStats Forwarder::run() {
    for (;;) {
        budget_.refill(Clock::now());
        // Frames a connection sent past the budget are taken first, once it allows.
        for (TcpConnection& c : connections_)
            if (budget_.available() && !c.dead && !c.in.empty()) take_frames(c);
        connections_.remove_if([](const TcpConnection& c) { return c.dead; });
        std::vector<pollfd> fds = poll_set();
        int ready = ::poll(fds.data(), fds.size(), poll_timeout(Clock::now()));
        if (ready < 0) {
            if (errno == EINTR) continue;
            log("dns: poll failed: " + errno_text(errno) + "; forwarder stops");
            break;
        }
        if (fds[0].revents != 0) break;  // stop: readable, EOF or error alike
        try {
            if (fds[1].revents != 0) serve_udp();
            if (fds[2].revents != 0) accept_tcp();
            std::size_t at = 3;
            for (std::size_t i = 0; i < sockets_.upstream_udp.size(); ++i, ++at)
                if (fds[at].revents != 0) serve_upstream(i);
            // Connections accepted this round are not in `fds`; they are polled next round.
            for (TcpConnection& c : connections_) {
                if (at >= fds.size()) break;
                if (fds[at].revents != 0) serve_tcp(c, fds[at].revents);
                ++at;
            }
            run_timers(Clock::now());
        } catch (const std::exception& e) {
            // Out of memory or a bug: drop what this round was doing, keep serving.
            log(std::string("dns: internal error: ") + e.what());
        }
        connections_.remove_if([](const TcpConnection& c) { return c.dead; });
    }
    return stats_;
}

void Forwarder::serve_udp() {
    for (int i = 0; i < kBurst && budget_.take(); ++i) {
        Client client;
        client.address_len = sizeof client.address;
        ssize_t n = ::recvfrom(sockets_.udp_listen, buffer_.data(), buffer_.size(), MSG_DONTWAIT,
                               reinterpret_cast<sockaddr*>(&client.address), &client.address_len);
        if (n < 0) return;  // EAGAIN, or an ICMP error queued for an earlier reply
        if (static_cast<std::size_t>(n) > kMaxMessage) continue;
        std::vector<std::uint8_t> query(buffer_.begin(), buffer_.begin() + n);
        handle_query(query, client);
    }
}

void Forwarder::accept_tcp() {
    Fd fd(::accept4(sockets_.tcp_listen, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd.valid()) return;
    if (connections_.size() >= kMaxTcpConnections) return;  // closed: the cell has enough
    TcpConnection& c = connections_.emplace_back();
    c.fd = std::move(fd);
    c.serial = next_serial_++;
    c.idle_deadline = Clock::now() + kTcpIdle;
}

void Forwarder::serve_tcp(TcpConnection& c, short events) {
    if (events & POLLOUT) flush(c);
    if (c.dead) return;
    if (events & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t n = ::recv(c.fd.get(), buffer_.data(), buffer_.size(), MSG_DONTWAIT);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) c.dead = true;
            return;
        }
        if (n == 0) {
            c.peer_done = true;
            if (c.out.empty() && !in_flight(c.serial)) c.dead = true;
            return;
        }
        c.idle_deadline = Clock::now() + kTcpIdle;
        c.in.insert(c.in.end(), buffer_.begin(), buffer_.begin() + n);
        take_frames(c);
    }
}

// RFC 1035 4.2.2: each message is preceded by its length in two bytes.
void Forwarder::take_frames(TcpConnection& c) {
    std::size_t used = 0;
    std::uint64_t serial = c.serial;
    while (c.in.size() - used >= 2) {
        std::size_t length = (std::size_t{c.in[used]} << 8) | c.in[used + 1];
        if (length == 0) {
            c.dead = true;
            return;
        }
        if (c.in.size() - used - 2 < length) break;
        if (!budget_.take()) break;  // the rest waits for the budget
        std::vector<std::uint8_t> query(c.in.begin() + used + 2, c.in.begin() + used + 2 + length);
        used += 2 + length;
        Client client;
        client.tcp = true;
        client.connection = serial;
        handle_query(query, client);
        if (c.dead) return;
    }
    c.in.erase(c.in.begin(), c.in.begin() + used);
}

void Forwarder::flush(TcpConnection& c) {
    while (!c.out.empty()) {
        ssize_t n = ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) c.dead = true;
            return;
        }
        c.out.erase(c.out.begin(), c.out.begin() + n);
        c.idle_deadline = Clock::now() + kTcpIdle;
    }
    if (c.peer_done && !in_flight(c.serial)) c.dead = true;
}

TcpConnection* Forwarder::connection(std::uint64_t serial) {
    for (TcpConnection& c : connections_)
        if (c.serial == serial && !c.dead) return &c;
    return nullptr;
}

bool Forwarder::in_flight(std::uint64_t serial) const {
    for (const auto& [id, p] : pending_)
        if (p.client.tcp && p.client.connection == serial) return true;
    return false;
}

void Forwarder::note_refused(const DnsQueryVerdict& verdict) {
    ++stats_.refused;
    std::string what = describe(verdict.name, verdict.qtype);
    if (stats_.refused_names.size() < kMaxRefusedNames) stats_.refused_names.push_back(what);
    if (logged_refusals_ < kMaxLoggedRefusals)
        log("dns: refused " + what + ": " + verdict.reason);
    else if (logged_refusals_ == kMaxLoggedRefusals)
        log("dns: further refusals are counted, not logged");
    ++logged_refusals_;
}

void Forwarder::handle_query(std::span<const std::uint8_t> query, const Client& client) {
    DnsQueryVerdict verdict = gate_.check_query(query);
    if (!verdict.forward) {
        note_refused(verdict);
        if (!verdict.reply.empty()) reply(client, query, std::move(verdict.reply));
        return;
    }
    forward(verdict, query, client);
}

void Forwarder::forward(const DnsQueryVerdict& verdict, std::span<const std::uint8_t> query,
                        const Client& client) {
    Pending p;
    p.client = client;
    p.query.assign(query.begin(), query.end());
    p.name = verdict.name;
    p.qtype = verdict.qtype;
    if (sockets_.upstream_udp.empty()) {
        fail(p, "no upstream resolver");
        return;
    }
    if (pending_.size() >= kMaxPending) drop_oldest_pending();
    std::uint16_t id = fresh_id();
    p.upstream_query = verdict.upstream_query;
    set_wire_id(p.upstream_query, id);
    Clock::time_point now = Clock::now();
    p.next_retry = now + kRetryAfter;
    p.give_up = now + kGiveUpAfter;
    p.serial = next_serial_++;
    ++stats_.forwarded;
    send_upstream(pending_.emplace(id, std::move(p)).first->second);
}

// A fresh random id per query, unused among pending ones, so an off-path spoofer has to guess
// it (the question must match too).
std::uint16_t Forwarder::fresh_id() {
    for (;;) {
        std::uint16_t id = 0;
        if (::getrandom(&id, sizeof id, 0) != static_cast<ssize_t>(sizeof id)) {
            // getrandom on 2 bytes only fails before the pool is seeded or on EINTR.
            id = static_cast<std::uint16_t>(Clock::now().time_since_epoch().count() ^ next_serial_);
        }
        if (!pending_.contains(id)) return id;
    }
}

void Forwarder::drop_oldest_pending() {
    auto oldest = pending_.begin();
    for (auto it = pending_.begin(); it != pending_.end(); ++it)
        if (it->second.serial < oldest->second.serial) oldest = it;
    if (oldest == pending_.end()) return;
    ++stats_.failed;
    pending_.erase(oldest);  // its stub will time out and retry
}

void Forwarder::send_upstream(Pending& p) {
    int fd = sockets_.upstream_udp[p.upstream];
    // A failed send is handled like a lost datagram: the retry timer tries the next resolver.
    (void)::send(fd, p.upstream_query.data(), p.upstream_query.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
}

void Forwarder::serve_upstream(std::size_t index) {
    int fd = sockets_.upstream_udp[index];
    for (int i = 0; i < kBurst; ++i) {
        ssize_t n = ::recv(fd, buffer_.data(), buffer_.size(), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            continue;  // ECONNREFUSED and friends: the retry timer deals with the resolver
        }
        if (static_cast<std::size_t>(n) > kMaxMessage) continue;
        handle_answer(std::span<const std::uint8_t>(buffer_.data(), static_cast<std::size_t>(n)));
    }
}

void Forwarder::handle_answer(std::span<const std::uint8_t> answer) {
    if (answer.size() < LDNS_HEADER_SIZE) return;
    auto it = pending_.find(wire_id(answer));
    if (it == pending_.end()) return;  // late, duplicate or spoofed
    // The gate compares the answer with the cell's own query, so the cell's id goes back in.
    std::vector<std::uint8_t> message(answer.begin(), answer.end());
    set_wire_id(message, wire_id(it->second.query));
    DnsAnswerVerdict verdict = gate_.check_answer(it->second.query, message);
    if (!verdict.matched) return;  // another question under the same id: keep waiting
    Pending p = std::move(it->second);
    pending_.erase(it);
    finish(p, verdict);
}

void Forwarder::finish(Pending& p, const DnsAnswerVerdict& verdict) {
    for (const std::string& address : verdict.withheld) {
        ++stats_.withheld;
        log("dns: withheld " + address + " for " + p.name + ": always-denied range");
    }
    std::vector<std::uint8_t> message = verdict.reply;
    if (!verdict.additions.empty()) {
        // The addresses are in the sets before the cell can connect to them.
        try {
            add_addresses_(verdict.additions);
        } catch (const std::exception& e) {
            fail(p, std::string("adding its addresses failed: ") + e.what());
            return;
        } catch (...) {
            fail(p, "adding its addresses failed");
            return;
        }
    }
    if (message.size() >= LDNS_HEADER_SIZE && LDNS_RCODE_WIRE(message.data()) == LDNS_RCODE_SERVFAIL)
        ++stats_.failed;
    reply(p.client, p.query, std::move(message));
}

void Forwarder::fail(const Pending& p, const std::string& why) {
    ++stats_.failed;
    log("dns: SERVFAIL for " + describe(p.name, p.qtype) + ": " + why);
    reply(p.client, p.query, dns_error_reply(p.query, LDNS_RCODE_SERVFAIL));
}

void Forwarder::reply(const Client& client, std::span<const std::uint8_t> query,
                      std::vector<std::uint8_t> message) {
    if (message.empty() || message.size() > kMaxMessage) return;
    if (!client.tcp) {
        message = dns_fit_udp_reply(query, std::move(message));
        if (message.empty()) return;
        (void)::sendto(sockets_.udp_listen, message.data(), message.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
                       reinterpret_cast<const sockaddr*>(&client.address), client.address_len);
        return;
    }
    TcpConnection* c = connection(client.connection);
    if (!c) return;  // the cell hung up meanwhile
    if (c->out.size() + 2 + message.size() > kMaxTcpOutput) {
        c->dead = true;  // the cell does not read its replies; stop buffering for it
        return;
    }
    c->out.push_back(static_cast<std::uint8_t>(message.size() >> 8));
    c->out.push_back(static_cast<std::uint8_t>(message.size() & 0xff));
    c->out.insert(c->out.end(), message.begin(), message.end());
    flush(*c);
}

void Forwarder::run_timers(Clock::time_point now) {
    for (auto it = pending_.begin(); it != pending_.end();) {
        Pending& p = it->second;
        if (now >= p.give_up) {
            Pending gone = std::move(p);
            it = pending_.erase(it);
            fail(gone, "no answer from upstream");
            continue;
        }
        if (now >= p.next_retry) {
            p.upstream = (p.upstream + 1) % sockets_.upstream_udp.size();
            p.next_retry = now + kRetryAfter;
            send_upstream(p);
        }
        ++it;
    }
    for (TcpConnection& c : connections_)
        if (!c.dead && now >= c.idle_deadline && !in_flight(c.serial)) c.dead = true;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

}  // namespace

DnsStats run_dns_forwarder(const DnsGate& gate, const DnsForwarderSockets& sockets,
                           const DnsAddAddresses& add_addresses, const DnsLog& log) {
    Forwarder forwarder(gate, sockets, add_addresses, log);
    return forwarder.run();
}

std::vector<sockaddr_storage> resolvers_from_resolv_conf(const std::string& text) {
    std::vector<sockaddr_storage> resolvers;
    for (const std::string& line : lines_of(text)) {
        std::istringstream words(line);
        std::string keyword, address;
        if (!(words >> keyword >> address) || keyword != "nameserver") continue;
        // Numeric only (no lookups); getaddrinfo also understands "fe80::1%eth0".
        addrinfo hints{};
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
        hints.ai_socktype = SOCK_DGRAM;
        addrinfo* found = nullptr;
        if (::getaddrinfo(address.c_str(), "53", &hints, &found) != 0 || !found) continue;
        std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(found, &::freeaddrinfo);
        if (found->ai_addrlen > sizeof(sockaddr_storage)) continue;
        sockaddr_storage storage{};
        std::memcpy(&storage, found->ai_addr, found->ai_addrlen);
        resolvers.push_back(storage);
    }
    return resolvers;
}

}  // namespace jobcell
