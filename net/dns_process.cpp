#include "net/dns_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "net/link.hpp"
#include "net/nft.hpp"
#include "net/cell_net_config.hpp"
#include "sandbox/error.hpp"

namespace jobcell {
namespace {

Fd udp_socket_to(const sockaddr_storage& address) {
    Fd fd(::socket(address.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid()) throw_errno("dns upstream socket");
    const socklen_t size = address.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), size) != 0)
        throw_errno("dns upstream connect");
    return fd;
}

// Bound to 127.0.0.53:53 in the current (cell) namespace. IP_FREEBIND: the cell may not have
// brought its loopback up yet.
Fd listener(int type) {
    Fd fd(::socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid()) throw_errno("dns listener socket");
    int one = 1;
    ::setsockopt(fd.get(), SOL_IP, IP_FREEBIND, &one, sizeof one);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(53);
    ::inet_pton(AF_INET, kCellDnsAddress, &address.sin_addr);
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
        throw_errno(std::string("bind ") + kCellDnsAddress + ":53 in the cell");
    if (type == SOCK_STREAM && ::listen(fd.get(), 16) != 0) throw_errno("listen for dns over tcp");
    return fd;
}

// The user namespace first: rootless, only its capabilities allow joining the cell's network
// namespace (root mode could join either way round).
void join_cell(int userns_fd, int netns_fd) {
    if (::setns(userns_fd, CLONE_NEWUSER) != 0) throw_errno("dns forwarder: join the cell's user namespace");
    if (::setns(netns_fd, CLONE_NEWNET) != 0) throw_errno("dns forwarder: join the cell's network");
}

// Hold nothing but CAP_NET_ADMIN over the cell's namespaces, as the cell's root (root mode) or
// as the job user, the only id a rootless cell has.
void give_up_host(bool rootless) {
    if (!rootless) {
        if (::setgroups(0, nullptr) != 0) throw_errno("dns forwarder: setgroups");
        if (::setresgid(0, 0, 0) != 0) throw_errno("dns forwarder: setresgid");
        if (::setresuid(0, 0, 0) != 0) throw_errno("dns forwarder: setresuid");
    }
    for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
        if (cap != CAP_NET_ADMIN && ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
            throw_errno("dns forwarder: drop bounding capability");
    }
    cap_t caps = ::cap_init();
    if (caps == nullptr) throw_errno("cap_init");
    cap_value_t keep[] = {CAP_NET_ADMIN};
    ::cap_set_flag(caps, CAP_PERMITTED, 1, keep, CAP_SET);
    ::cap_set_flag(caps, CAP_EFFECTIVE, 1, keep, CAP_SET);
    const int rc = ::cap_set_proc(caps);
    ::cap_free(caps);
    if (rc != 0) throw_errno("dns forwarder: capabilities");
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) throw_errno("dns forwarder: no_new_privs");
    ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) throw_errno("dns forwarder: parent-death signal");
}

// The supervisor's other fds (the cell's pidfd, cgroup, memfd, pipes) are none of the
// forwarder's business.
void close_all_fds_except(std::vector<int> keep) {
    keep.push_back(-1);
    std::sort(keep.begin(), keep.end());
    keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
    keep.push_back(INT_MAX);
    for (std::size_t i = 0; i + 1 < keep.size(); ++i) {
        const int first = keep[i] + 1;
        const int last = keep[i + 1] - 1;
        if (first <= last) ::syscall(SYS_close_range, static_cast<unsigned>(first), static_cast<unsigned>(last), 0U);
    }
}

// The runner's SIGTERM to the whole process group must not take names away from a job that
// is still in its grace time: the forwarder ends when the supervisor says so, or dies with it.
void ignore_group_signals() {
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE}) ::signal(sig, SIG_IGN);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

[[noreturn]] void forwarder_main(const DnsProcessSetup& setup, int stop_fd, int report_fd) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    ignore_group_signals();
    close_all_fds_except({0, 1, 2, stop_fd, report_fd, setup.cell_netns_fd, setup.cell_userns_fd});
    try {
        std::vector<Fd> upstream;
        // A resolver the host cannot route to is skipped; with none left every answer is
        // SERVFAIL, which is what the cell would see on the host too.
        for (const auto& resolver : setup.resolvers) {
            try {
                upstream.push_back(udp_socket_to(resolver));
            } catch (const Error& e) {
                spdlog::warn("{}", e.what());
            }
        }
        join_cell(setup.cell_userns_fd, setup.cell_netns_fd);
        // The cell brings lo up as well, perhaps later. With the listener bound before lo was
        // up, replies were seen to miss the stub's socket (UDP "no port" in the cell) under
        // load; bringing lo up first (idempotent) made that go away.
        NetlinkRoute().set_up("lo");
        Fd udp = listener(SOCK_DGRAM);
        Fd tcp = listener(SOCK_STREAM);
        NftContext nft;
        give_up_host(setup.rootless);
        DnsGate gate(setup.gate);
        const std::string ready = "ready\n";
        if (!write_all(report_fd, ready.data(), ready.size())) ::_exit(1);

        DnsForwarderSockets sockets;
        sockets.udp_listen = udp.get();
        sockets.tcp_listen = tcp.get();
        for (const auto& fd : upstream) sockets.upstream_udp.push_back(fd.get());
        sockets.stop = stop_fd;
        auto add = [&](const std::vector<DnsSetAddition>& additions) {
            std::string script;
            for (const auto& a : additions)
                script += add_name_address_command(setup.groups.at(static_cast<std::size_t>(a.group)), a.address,
                                                   a.ipv6, a.ttl_seconds) + "\n";
            if (!script.empty()) nft.run("allow resolved addresses", script);
        };
        auto log = [](const std::string& line) { spdlog::info("{}", line); };
        NetworkAccounting accounting;
        accounting.dns = run_dns_forwarder(gate, sockets, add, log);
        try {
            read_ruleset_accounting(nft.run_json("read deny counters", std::string("list table inet ") + kEgressTable),
                                    accounting);
        } catch (const std::exception& e) {
            spdlog::warn("network accounting: {}", e.what());
        }
        const std::string json = accounting_to_json(accounting);
        write_all(report_fd, json.data(), json.size());
        ::_exit(0);
    } catch (const std::exception& e) {
        const std::string text = std::string("error ") + e.what();
        write_all(report_fd, text.data(), text.size());
        ::_exit(1);
    }
}

}  // namespace

DnsForwarderProcess::DnsForwarderProcess(const DnsProcessSetup& setup) {
    Pipe stop = make_pipe();
    Pipe report = make_pipe();
    pid_ = ::fork();
    if (pid_ < 0) throw_errno("fork the dns forwarder");
    if (pid_ == 0) {
        stop.write.reset();
        report.read.reset();
        forwarder_main(setup, stop.read.get(), report.write.get());
    }
    stop_ = std::move(stop.write);
    report_ = std::move(report.read);
    report.write.reset();
    // "ready\n" (6 bytes) or "error ..." then EOF.
    std::string first;
    char byte = 0;
    while (first.size() < 6) {
        ssize_t n = ::read(report_.get(), &byte, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        first.push_back(byte);
    }
    if (first == "ready\n") return;
    std::string rest = read_all(report_.get());
    std::string text = first + rest;
    if (text.rfind("error ", 0) == 0) text.erase(0, 6);
    throw Error(text.empty() ? "the dns forwarder ended before it was ready" : text);
}

DnsForwarderProcess::~DnsForwarderProcess() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
}

NetworkAccounting DnsForwarderProcess::stop() {
    NetworkAccounting accounting;
    stop_.reset();
    std::string json = read_all(report_.get(), 1 << 20);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    try {
        accounting = accounting_from_json(json);
    } catch (const std::exception& e) {
        spdlog::warn("network accounting unreadable: {}", e.what());
    }
    return accounting;
}

std::string accounting_to_json(const NetworkAccounting& a) {
    nlohmann::json j = {
        {"denied", a.denied},
        {"denied_destinations", a.denied_destinations},
        {"dns",
         {{"forwarded", a.dns.forwarded},
          {"refused", a.dns.refused},
          {"failed", a.dns.failed},
          {"withheld", a.dns.withheld},
          {"refused_names", a.dns.refused_names}}},
    };
    return j.dump();
}

NetworkAccounting accounting_from_json(const std::string& text) {
    const auto j = nlohmann::json::parse(text);
    NetworkAccounting a;
    a.denied = j.at("denied").get<std::map<std::string, std::uint64_t>>();
    a.denied_destinations = j.at("denied_destinations").get<std::vector<std::string>>();
    const auto& dns = j.at("dns");
    a.dns.forwarded = dns.at("forwarded").get<unsigned>();
    a.dns.refused = dns.at("refused").get<unsigned>();
    a.dns.failed = dns.at("failed").get<unsigned>();
    a.dns.withheld = dns.at("withheld").get<unsigned>();
    a.dns.refused_names = dns.at("refused_names").get<std::vector<std::string>>();
    return a;
}

namespace {

std::string element_text(const nlohmann::json& value) {
    if (value.is_string()) return value.get<std::string>();
    if (value.is_number()) return std::to_string(value.get<long long>());
    if (value.is_object() && value.contains("concat")) {
        std::string out;
        for (const auto& part : value["concat"]) out += (out.empty() ? "" : " ") + element_text(part);
        return out;
    }
    if (value.is_object() && value.contains("elem")) return element_text(value["elem"].value("val", nlohmann::json()));
    return value.dump();
}

}  // namespace

void read_ruleset_accounting(const std::string& nft_json, NetworkAccounting& out) {
    const auto listing = nlohmann::json::parse(nft_json);
    for (const auto& item : listing.at("nftables")) {
        if (item.contains("counter")) {
            const auto& c = item["counter"];
            out.denied[c.value("name", "")] = c.value("packets", std::uint64_t{0});
        } else if (item.contains("set")) {
            const auto& s = item["set"];
            const std::string name = s.value("name", "");
            if (name.rfind("denied", 0) != 0 || !s.contains("elem")) continue;
            for (const auto& element : s["elem"]) out.denied_destinations.push_back(element_text(element));
        }
    }
}

std::vector<sockaddr_storage> upstream_resolvers(const std::vector<std::string>& configured) {
    if (configured.empty()) {
        std::string text;
        try {
            Fd fd(::open("/etc/resolv.conf", O_RDONLY | O_CLOEXEC));
            if (!fd.valid()) throw_errno("read /etc/resolv.conf");
            text = read_all(fd.get());
        } catch (const Error& e) {
            throw Error("dns forwarder: " + std::string(e.what()) + "; set [network] resolvers in the policy");
        }
        auto resolvers = resolvers_from_resolv_conf(text);
        if (resolvers.empty()) throw Error("dns forwarder: /etc/resolv.conf names no nameserver; set [network] resolvers in the policy");
        return resolvers;
    }
    std::string text;
    for (const auto& address : configured) text += "nameserver " + address + "\n";
    return resolvers_from_resolv_conf(text);
}

}  // namespace jobcell
