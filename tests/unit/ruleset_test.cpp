// The egress ruleset: the generated script is pinned by golden files, every golden file is
// loaded by the real nft into a throwaway network namespace, and one test sends packets inside
// such a namespace and asserts the errno a job would see (EPERM for a drop, as bubblewrap's
// try-syscall does for syscalls). The kernel parts skip loudly, naming what is missing, when
// the machine cannot run them (not root, no unshare, nft or ip).
#include "net/ruleset.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "net/allowlist.hpp"
#include "sandbox/error.hpp"

using Catch::Matchers::Contains;
using jobcell::add_name_address_command;
using jobcell::address_always_denied_for_names;
using jobcell::EgressRuleset;
using jobcell::EgressRulesetInput;
using jobcell::generate_egress_ruleset;
using jobcell::NameSetGroup;
using jobcell::parse_allowlist;
using jobcell::PortRange;

namespace {

const std::string kGoldenDir = JOBCELL_SOURCE_DIR "/tests/unit/golden/";

// Every kind of entry, ports shared between names and not, and a duplicated host address.
EgressRulesetInput mixed_input(const std::string& mode) {
    return {mode,
            parse_allowlist({"gitlab.example.com:443", "*.debian.org:80", "registry.example.com:443",
                             "*.pythonhosted.org", "203.0.113.0/24:443", "198.51.100.7",
                             "[2001:db8::/32]:443", "[2001:db8:1::5]:22", "10.20.0.0/16:5000-5010",
                             "objects.example.com:8000-8100", "192.0.2.1:8080"}),
            {"192.0.2.1", "10.0.0.1", "2001:DB8:ffff::1", "192.0.2.1"}};
}

struct Golden {
    const char* file;
    EgressRulesetInput input;
};

std::vector<Golden> goldens() {
    return {{"ruleset_allowlist.nft", mixed_input("allowlist")},
            {"ruleset_open.nft", mixed_input("open")},
            {"ruleset_empty.nft", {"allowlist", {}, {"192.0.2.1", "fd00::1"}}}};
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// ---- running commands ------------------------------------------------------------------------

struct CommandResult {
    int status = -1;  // exit code, or -1 when it did not exit normally
    std::string output;
};

CommandResult run(const std::string& command) {
    CommandResult result;
    FILE* pipe = popen((command + " 2>&1").c_str(), "r");
    if (pipe == nullptr) return result;
    std::array<char, 4096> buffer{};
    while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) result.output += buffer.data();
    const int status = pclose(pipe);
    if (status != -1 && WIFEXITED(status)) result.status = WEXITSTATUS(status);
    return result;
}

bool have_command(const std::string& name) {
    return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

// What keeps the kernel tests from running here, "" when nothing does.
std::string missing(const std::vector<std::string>& commands) {
    std::string what;
    if (geteuid() != 0) what = "not root";
    for (const std::string& command : commands) {
        if (!have_command(command)) what += (what.empty() ? "" : ", ") + ("'" + command + "' not found");
    }
    if (what.empty() && have_command("unshare") && run("timeout 10 unshare -n true").status != 0) {
        what = "'unshare -n' cannot create a network namespace here";
    }
    return what;
}

// A directory for scratch files, removed with everything in it.
class TempDir {
public:
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "jobcell-ruleset-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) throw jobcell::Error("mkdtemp failed");
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    std::string write(const std::string& name, const std::string& text) const {
        const std::string file = path_ + "/" + name;
        std::ofstream out(file, std::ios::trunc);
        out << text;
        return file;
    }

private:
    std::string path_;
};

}  // namespace

// --- the script text --------------------------------------------------------------------------

TEST_CASE("ruleset: generated scripts match the golden files", "[ruleset]") {
    const bool update = [] {
        const char* value = std::getenv("JOBCELL_UPDATE_GOLDEN");
        return value != nullptr && *value == '1';
    }();
    for (const Golden& golden : goldens()) {
        const std::string path = kGoldenDir + golden.file;
        const std::string actual = generate_egress_ruleset(golden.input).script;
        if (update) {
            std::ofstream out(path, std::ios::trunc);
            out << actual;
            REQUIRE(out.good());
        }
        INFO("The egress ruleset differs from "
             << path
             << ".\nIf the change is deliberate, regenerate it with\n"
                "  JOBCELL_UPDATE_GOLDEN=1 <build>/unit_tests '[ruleset]'\n"
                "and review the diff before committing.\nActual script:\n"
             << actual);
        CHECK(read_file(path) == actual);
    }
}

TEST_CASE("ruleset: one name set pair per distinct port spec, in order of first use", "[ruleset]") {
    const EgressRuleset r = generate_egress_ruleset(mixed_input("allowlist"));
    REQUIRE(r.groups.size() == 4);
    CHECK(r.groups[0].ports == PortRange{443, 443});
    CHECK(r.groups[0].set4 == "names4_0");
    CHECK(r.groups[0].set6 == "names6_0");
    CHECK(r.groups[1].ports == PortRange{80, 80});
    CHECK(!r.groups[2].ports);
    CHECK(r.groups[3].ports == PortRange{8000, 8100});
    CHECK(r.groups[3].set4 == "names4_3");
    CHECK(r.entry_group == std::vector<int>{0, 1, 0, 2, -1, -1, -1, -1, -1, 3, -1});
}

TEST_CASE("ruleset: open mode has no name sets and ignores the entries", "[ruleset]") {
    const EgressRuleset r = generate_egress_ruleset(mixed_input("open"));
    CHECK(r.groups.empty());
    CHECK(r.entry_group == std::vector<int>(11, -1));
    CHECK_THAT(r.script, !Contains("203.0.113.0"));
    CHECK_THAT(r.script, !Contains("names4"));
    CHECK_THAT(r.script, !Contains("goto drop_unlisted"));
}

TEST_CASE("ruleset: the steps come in the documented order", "[ruleset]") {
    const std::string s = generate_egress_ruleset(mixed_input("allowlist")).script;
    const std::vector<std::string> in_order{
        "oif \"lo\" accept",
        "ip daddr @never4 goto drop_never",
        "ct state established,related accept",
        "ip daddr 198.51.100.7 accept",
        "ip6 daddr 2001:db8:1::5 meta l4proto { tcp, udp } th dport 22 accept",
        "ip daddr 192.0.2.1 meta l4proto { tcp, udp } th dport 8080 accept",
        "ip daddr @host4 goto drop_host",
        "ip daddr 203.0.113.0/24 meta l4proto { tcp, udp } th dport 443 accept",
        "ip6 daddr 2001:db8::/32 meta l4proto { tcp, udp } th dport 443 accept",
        "ip daddr 10.20.0.0/16 meta l4proto { tcp, udp } th dport 5000-5010 accept",
        "ip daddr @private4 goto drop_private",
        "ip daddr @names4_0 meta l4proto { tcp, udp } th dport 443 accept",
        "ip6 daddr @names6_2 accept",
        "ip daddr @names4_3 meta l4proto { tcp, udp } th dport 8000-8100 accept",
        "goto drop_unlisted\n\t}",
    };
    std::size_t at = s.find("chain output");
    REQUIRE(at != std::string::npos);
    for (const std::string& rule : in_order) {
        INFO(rule);
        const std::size_t found = s.find(rule, at);
        REQUIRE(found != std::string::npos);
        at = found;
    }
}

TEST_CASE("ruleset: host addresses are canonical and listed once", "[ruleset]") {
    const std::string s = generate_egress_ruleset(mixed_input("allowlist")).script;
    CHECK_THAT(s, Contains("elements = { 192.0.2.1, 10.0.0.1 }"));
    CHECK_THAT(s, Contains("elements = { 2001:db8:ffff::1 }"));
}

TEST_CASE("ruleset: every deny counter exists and is used by a drop", "[ruleset]") {
    const std::string s = generate_egress_ruleset(mixed_input("allowlist")).script;
    for (const char* counter : jobcell::kDenyCounters) {
        INFO(counter);
        CHECK_THAT(s, Contains("counter " + std::string(counter) + " { }"));
        const std::string chain = "\tjump record_denied\n\t\tcounter name \"" + std::string(counter) +
                                  "\"\n\t\tmeta l4proto tcp reject with icmpx admin-prohibited\n\t\tdrop\n";
        CHECK_THAT(s, Contains(chain));
    }
}

TEST_CASE("ruleset: bad input is refused, not written into the script", "[ruleset]") {
    REQUIRE_THROWS_WITH(generate_egress_ruleset({"none", {}, {}}),
                        "egress ruleset: network mode 'none' has none (expected allowlist or open)");
    REQUIRE_THROWS_WITH(generate_egress_ruleset({"allowlist", {}, {"192.0.2.1; flush ruleset"}}),
                        "host address '192.0.2.1; flush ruleset': not a plain IPv4 or IPv6 address");
    jobcell::AllowEntry forged;
    forged.kind = jobcell::AllowEntry::Kind::cidr4;
    forged.address = "0.0.0.0/0 accept";
    forged.prefix = 0;
    forged.text = "forged";
    REQUIRE_THROWS_WITH(generate_egress_ruleset({"allowlist", {forged}, {}}),
                        "allow entry 'forged': not a valid network (0.0.0.0/0 accept/0)");
    forged.address = "10.1.0.0";
    forged.prefix = 8;
    REQUIRE_THROWS_WITH(generate_egress_ruleset({"allowlist", {forged}, {}}),
                        "allow entry 'forged': host bits set in 10.1.0.0/8");
}

// --- adding resolved addresses ----------------------------------------------------------------

TEST_CASE("ruleset: a resolved address goes to its group's set with a timeout", "[ruleset]") {
    const NameSetGroup group{PortRange{443, 443}, "names4_0", "names6_0"};
    CHECK(add_name_address_command(group, "198.51.100.7", false, 300) ==
          "add element inet jobcell names4_0 { 198.51.100.7 timeout 300s }\n");
    CHECK(add_name_address_command(group, "2001:DB8::0:7", true, 60) ==
          "add element inet jobcell names6_0 { 2001:db8::7 timeout 60s }\n");
    CHECK(add_name_address_command(group, "198.51.100.7", false, 0) ==
          "add element inet jobcell names4_0 { 198.51.100.7 timeout 1s }\n");
    REQUIRE_THROWS_WITH(add_name_address_command(group, "2001:db8::7", false, 60),
                        "name set address '2001:db8::7': not an IPv4 address");
    REQUIRE_THROWS_WITH(add_name_address_command(group, "1.2.3.4 }; flush ruleset; {", false, 60),
                        "name set address '1.2.3.4 }; flush ruleset; {': not an IPv4 address");
    const NameSetGroup bad{std::nullopt, "names4_0 { 0.0.0.0/0 }", "x"};
    REQUIRE_THROWS_WITH(add_name_address_command(bad, "1.2.3.4", false, 60),
                        "name set 'names4_0 { 0.0.0.0/0 }': not a set of the egress ruleset");
}

TEST_CASE("ruleset: addresses names may never resolve to", "[ruleset]") {
    const std::vector<std::string> hosts{"192.0.2.1", "2001:db8:ffff::1"};
    for (const char* denied :
         {"169.254.169.254", "0.0.0.0", "0.1.2.3", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
          "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "100.64.0.1", "100.127.255.255", "127.0.0.1",
          "127.1.2.3", "192.0.2.1", "fe80::1", "febf::1", "fd00:ec2::254", "ff02::1", "::", "::1",
          "::ffff:169.254.169.254", "::ffff:8.8.8.8", "64:ff9b::a9fe:a9fe", "64:ff9b::808:808", "64:ff9b:1::1",
          "2002:a9fe:a9fe::", "2002:0808:0808::", "2001:0:4136:e378::1", "fc00::1", "fd12:3456::1",
          "fec0::1", "2001:DB8:FFFF::1", "not an address", "", "1.2.3.4/32"}) {
        INFO(denied);
        CHECK(address_always_denied_for_names(denied, hosts));
    }
    for (const char* allowed : {"8.8.8.8", "1.1.1.1", "172.32.0.1", "172.15.255.255", "100.128.0.1",
                                "100.63.255.255", "169.253.255.255", "169.255.0.1", "192.0.2.2", "223.255.255.255",
                                "2606:4700::1111", "2001:db8:ffff::2", "2001:1::1", "64:ff9c::1", "2003::1",
                                "fbff::1", "fe00::1"}) {
        INFO(allowed);
        CHECK(!address_always_denied_for_names(allowed, hosts));
    }
}

// --- the kernel accepts it ------------------------------------------------------------------

TEST_CASE("ruleset: every golden script and an address addition load into nft", "[ruleset]") {
    const std::string why = missing({"unshare", "nft", "timeout"});
    if (!why.empty()) {
        WARN("SKIPPED: loading the rulesets into nft needs root, unshare, nft and timeout: " << why);
        return;
    }
    TempDir dir;
    for (const Golden& golden : goldens()) {
        const std::string path = kGoldenDir + golden.file;
        const CommandResult loaded = run("timeout 20 unshare -n nft -f " + path);
        INFO(path << ":\n" << loaded.output);
        CHECK(loaded.status == 0);
    }
    const EgressRuleset r = generate_egress_ruleset(mixed_input("allowlist"));
    const std::string script = dir.write("ruleset.nft", r.script);
    std::string additions;
    for (const NameSetGroup& group : r.groups) {
        additions += add_name_address_command(group, "198.51.100.20", false, 300);
        additions += add_name_address_command(group, "2001:db8:5::20", true, 30);
    }
    // Added a second time: an answer repeated later must not fail the forwarder.
    additions += add_name_address_command(r.groups[0], "198.51.100.20", false, 600);
    const std::string add = dir.write("add.nft", additions);
    const CommandResult loaded = run("timeout 20 unshare -n sh -c 'nft -f " + script + " && nft -f " + add +
                                     " && nft list set inet jobcell names4_0'");
    INFO(loaded.output);
    CHECK(loaded.status == 0);
    CHECK_THAT(loaded.output, Contains("198.51.100.20 timeout 10m"));
}

// --- the kernel enforces it -------------------------------------------------------------------

namespace {

std::string errno_name(int err) {
    const char* name = strerrorname_np(err);
    return name != nullptr ? name : std::to_string(err);
}

// Sends one UDP datagram and says what the job would see: "sent" or the errno's name. A drop
// in the output hook fails the send with EPERM, which is what proves the rule fired (a TCP
// connect() does not: the kernel retransmits a dropped SYN silently).
std::string udp_probe(const char* address, int port) {
    sockaddr_storage storage{};
    socklen_t length = 0;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
    if (inet_pton(AF_INET, address, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(static_cast<std::uint16_t>(port));
        length = sizeof *v4;
    } else if (inet_pton(AF_INET6, address, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(static_cast<std::uint16_t>(port));
        length = sizeof *v6;
    } else {
        return "bad address";
    }
    const int fd = socket(storage.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return "socket: " + errno_name(errno);
    const ssize_t sent = sendto(fd, "x", 1, 0, reinterpret_cast<const sockaddr*>(&storage), length);
    const int err = errno;
    close(fd);
    return sent == 1 ? "sent" : errno_name(err);
}

// Starts a TCP connect and gives up after `wait_ms`: "refused", "timeout", "connected" or the
// errno name. Only the ruleset's own record of the SYN tells a drop from a silent network.
std::string tcp_probe(const char* address, int port, int wait_ms) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<std::uint16_t>(port));
    inet_pton(AF_INET, address, &to.sin_addr);
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return "socket failed";
    std::string result;
    if (connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0) {
        result = "connected";
    } else if (errno != EINPROGRESS) {
        result = errno_name(errno);
    } else {
        pollfd p{fd, POLLOUT, 0};
        if (poll(&p, 1, wait_ms) == 0) {
            result = "timeout";
        } else {
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
            result = err == 0 ? "connected" : errno_name(err);
        }
    }
    close(fd);
    return result;
}

struct Probe {
    const char* what;
    const char* address;
    int port;
    const char* expected;  // "sent" or an errno name
};

// The world in the throwaway namespace: lo, a veth pair (c0 carries the cell's addresses, c1
// answers nothing), default routes via 192.0.2.1 and 2001:db8:2::1, which are the "host".
constexpr const char* kWorld =
    "set -e\n"
    "ip link set lo up\n"
    "ip link add c0 type veth peer name c1 || { echo 'no veth pair here'; exit 1; }\n"
    "ip link set c1 up\n"
    "ip addr add 192.0.2.2/24 dev c0\n"
    "ip -6 addr add 2001:db8:2::2/64 dev c0 nodad\n"
    "ip link set c0 up\n"
    "ip route add default via 192.0.2.1\n"
    "ip -6 route add default via 2001:db8:2::1\n";

// Runs in a forked child that is alone in a new network namespace: sets the world up, loads
// the ruleset and the name additions, probes, and writes a report to `out`. Exits 0 when it
// got as far as probing, 3 when the namespace could not be made, 4 when setup failed.
[[noreturn]] void probe_child(int out, const std::string& world, const std::string& ruleset,
                              const std::string& additions, const std::vector<Probe>& probes) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    alarm(30);
    const auto say = [out](const std::string& text) {
        const ssize_t ignored = write(out, text.data(), text.size());
        (void)ignored;
    };
    if (unshare(CLONE_NEWNET) != 0) {
        say(std::string("unshare(CLONE_NEWNET): ") + strerror(errno) + "\n");
        _exit(3);
    }
    const CommandResult setup =
        run("sh " + world + " && nft -f " + ruleset + " && nft -f " + additions);
    if (setup.status != 0) {
        say("setup failed:\n" + setup.output);
        _exit(4);
    }
    for (const Probe& p : probes) say(std::string(p.what) + ": " + udp_probe(p.address, p.port) + "\n");
    say(std::string("tcp to metadata: ") + tcp_probe("169.254.169.254", 80, 1000) + "\n");
    say(std::string("tcp to allowed network: ") + tcp_probe("203.0.113.5", 443, 1000) + "\n");
    say(run("nft list counters table inet jobcell; nft list set inet jobcell denied4; "
            "nft list set inet jobcell denied6")
            .output);
    _exit(0);
}

}  // namespace

TEST_CASE("ruleset: in a namespace, drops fail with EPERM and allowed destinations do not", "[ruleset]") {
    const std::string why = missing({"nft", "ip", "timeout", "sh"});
    if (!why.empty()) {
        WARN("SKIPPED: the enforcement test needs root, nft, ip, timeout and sh: " << why);
        return;
    }
    const EgressRulesetInput input{
        "allowlist",
        parse_allowlist({"203.0.113.0/24:443", "[2001:db8:7::/48]:443", "names.example.com:443", "10.9.0.0/16"}),
        {"192.0.2.1", "2001:db8:2::1"}};
    const EgressRuleset r = generate_egress_ruleset(input);
    REQUIRE(r.groups.size() == 1);
    TempDir dir;
    const std::string world = dir.write("world.sh", kWorld);
    const std::string ruleset = dir.write("ruleset.nft", r.script);
    const std::string additions =
        dir.write("add.nft", add_name_address_command(r.groups[0], "198.51.100.7", false, 300) +
                                 add_name_address_command(r.groups[0], "2001:db8:5::7", true, 300));
    const std::vector<Probe> probes{
        {"metadata", "169.254.169.254", 80, "EPERM"},
        {"metadata v6", "fd00:ec2::254", 80, "EPERM"},
        {"metadata via NAT64", "64:ff9b::a9fe:a9fe", 80, "EPERM"},
        {"metadata v4-mapped", "::ffff:169.254.169.254", 80, "EPERM"},
        {"host address (gateway)", "192.0.2.1", 53, "EPERM"},
        {"host address v6", "2001:db8:2::1", 53, "EPERM"},
        {"private", "192.168.1.1", 443, "EPERM"},
        {"private v6", "fd12::1", 443, "EPERM"},
        {"allowed network", "203.0.113.5", 443, "sent"},
        {"allowed network, other port", "203.0.113.5", 444, "EPERM"},
        {"allowed private network", "10.9.1.1", 5353, "sent"},
        {"allowed v6 network", "2001:db8:7::9", 443, "sent"},
        {"resolved name", "198.51.100.7", 443, "sent"},
        {"resolved name, other port", "198.51.100.7", 80, "EPERM"},
        {"resolved name v6", "2001:db8:5::7", 443, "sent"},
        {"unlisted", "198.51.100.9", 443, "EPERM"},
        {"unlisted v6", "2001:db8:6::1", 443, "EPERM"},
        {"loopback", "127.0.0.1", 9, "sent"},
    };

    int pipe_fds[2];
    REQUIRE(pipe2(pipe_fds, O_CLOEXEC) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(pipe_fds[0]);
        probe_child(pipe_fds[1], world, ruleset, additions, probes);
    }
    close(pipe_fds[1]);
    std::string report;
    std::array<char, 4096> buffer{};
    ssize_t n = 0;
    while ((n = read(pipe_fds[0], buffer.data(), buffer.size())) > 0 || (n < 0 && errno == EINTR)) {
        if (n > 0) report.append(buffer.data(), static_cast<std::size_t>(n));
    }
    close(pipe_fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    INFO("probe report:\n" << report);
    REQUIRE(WIFEXITED(status));
    if (WEXITSTATUS(status) == 3 || (WEXITSTATUS(status) == 4 && report.find("no veth pair here") != std::string::npos)) {
        WARN("SKIPPED: cannot build the throwaway network here:\n" << report);
        return;
    }
    REQUIRE(WEXITSTATUS(status) == 0);
    for (const Probe& p : probes) CHECK_THAT(report, Contains(std::string(p.what) + ": " + p.expected + "\n"));
    // TCP: the SYN is dropped, not refused, so only the record tells the two apart.
    CHECK_THAT(report, !Contains("tcp to metadata: EPERM"));
    CHECK_THAT(report, !Contains("tcp to allowed network: EPERM"));
    CHECK_THAT(report, Contains("169.254.169.254 . tcp . 80"));
    CHECK_THAT(report, !Contains("203.0.113.5 . tcp . 443"));
    CHECK_THAT(report, Contains("169.254.169.254 . udp . 80"));
    CHECK_THAT(report, Contains("198.51.100.9 . udp . 443"));
    CHECK_THAT(report, Contains("fd00:ec2::254 . udp . 80"));
    CHECK_THAT(report, !Contains("203.0.113.5 . udp . 443"));
    // Neighbour discovery passes: no solicited-node multicast destination is recorded.
    CHECK_THAT(report, !Contains("ff02::1:ff"));
}
