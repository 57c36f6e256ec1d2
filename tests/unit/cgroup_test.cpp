// Cgroups: the pure parts (which generation, mountinfo parsing, limits as files) exhaustively,
// the file writer against a temp directory, and — tagged [kernel], root only — real cell
// cgroups on this machine: limits land, members are counted and limited, and the destructor
// leaves nothing behind. Exclude the kernel tests with "~[kernel]".
#include "sandbox/cgroup.hpp"

#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>

#include "sandbox/cgroup_impl.hpp"
#include "sandbox/error.hpp"

using namespace jobcell;
namespace fs = std::filesystem;
using Files = std::vector<std::pair<std::string, std::string>>;

namespace {

// A temporary directory removed with everything in it.
struct TempDir {
    fs::path path;
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "jobcell-cgtest-XXXXXX").string();
        REQUIRE(mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

void touch(const fs::path& file) { std::ofstream(file).put('\0'); }

std::string slurp(const fs::path& file) {
    std::ifstream in(file);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

// A pid that existed a moment ago and is gone (reaped).
pid_t dead_pid() {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) _exit(0);
    waitpid(pid, nullptr, 0);
    return pid;
}

const char* kHybridMountinfo =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

// Debian 12 / systemd 252 on a pure v2 host, with optional fields before the separator.
const char* kPureV2Mountinfo =
    "22 28 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
    "25 28 0:5 / /dev rw,nosuid,relatime shared:2 - devtmpfs udev rw,size=4000000k,mode=755\n"
    "28 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro\n"
    "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";

// Older distributions: cpu and cpuacct co-mounted, plus the usual noise.
const char* kComountedMountinfo =
    "25 24 0:22 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:9 - cgroup "
    "cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd\n"
    "28 24 0:25 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:11 - cgroup "
    "cgroup rw,cpu,cpuacct\n"
    "29 24 0:26 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:12 - cgroup "
    "cgroup rw,memory\n"
    "30 24 0:27 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup "
    "rw,pids\n"
    "31 24 0:28 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:14 - "
    "cgroup cgroup rw,net_cls,net_prio\n";

}  // namespace

// ---- choosing a generation -------------------------------------------------------------------

TEST_CASE("cgroup: pure v2 with controllers is v2", "[cgroup]") {
    CgroupMounts m;
    m.v2_root = "/sys/fs/cgroup";
    m.v2_controllers = {"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"};
    CHECK(choose_cgroup_version(m) == CgroupVersion::v2);
}

TEST_CASE("cgroup: hybrid with an empty unified hierarchy is v1", "[cgroup]") {
    CgroupMounts m = parse_cgroup_mountinfo(kHybridMountinfo);
    m.v2_controllers = {"hugetlb"};
    CHECK(choose_cgroup_version(m) == CgroupVersion::v1);
}

TEST_CASE("cgroup: v1 only is v1", "[cgroup]") {
    CgroupMounts m;
    m.v1_roots = {{"memory", "/sys/fs/cgroup/memory"}, {"pids", "/sys/fs/cgroup/pids"}};
    CHECK(choose_cgroup_version(m) == CgroupVersion::v1);
}

TEST_CASE("cgroup: v2 without cpu falls back to v1 when v1 has memory and pids", "[cgroup]") {
    CgroupMounts m;
    m.v2_root = "/sys/fs/cgroup/unified";
    m.v2_controllers = {"memory", "pids"};
    m.v1_roots = {{"memory", "/sys/fs/cgroup/memory"}, {"pids", "/sys/fs/cgroup/pids"}};
    CHECK(choose_cgroup_version(m) == CgroupVersion::v1);
}

TEST_CASE("cgroup: nothing usable says what is missing", "[cgroup]") {
    CHECK_THROWS_WITH(choose_cgroup_version(CgroupMounts{}),
                      "cgroup: no usable cgroup (no cgroup2 mount; v1 lacks memory, pids)");
    CgroupMounts m;
    m.v2_root = "/sys/fs/cgroup/unified";
    m.v1_roots = {{"pids", "/sys/fs/cgroup/pids"}, {"cpu", "/sys/fs/cgroup/cpu"}};
    CHECK_THROWS_WITH(choose_cgroup_version(m),
                      "cgroup: no usable cgroup (v2 at /sys/fs/cgroup/unified lacks memory, pids, "
                      "cpu; v1 lacks memory)");
    m.v2_controllers = {"memory", "pids"};
    m.v1_roots.clear();
    CHECK_THROWS_WITH(choose_cgroup_version(m),
                      "cgroup: no usable cgroup (v2 at /sys/fs/cgroup/unified lacks cpu; v1 "
                      "lacks memory, pids)");
}

// ---- mountinfo -------------------------------------------------------------------------------

TEST_CASE("cgroup: mountinfo of a hybrid host", "[cgroup]") {
    const CgroupMounts m = parse_cgroup_mountinfo(kHybridMountinfo);
    CHECK(m.v2_root == "/sys/fs/cgroup/unified");
    CHECK(m.v2_controllers.empty());
    CHECK(m.v1_roots.at("memory") == "/sys/fs/cgroup/memory");
    CHECK(m.v1_roots.at("pids") == "/sys/fs/cgroup/pids");
    CHECK(m.v1_roots.at("cpu") == "/sys/fs/cgroup/cpu");
    CHECK(m.v1_roots.at("cpuacct") == "/sys/fs/cgroup/cpuacct");
    CHECK(m.v1_roots.at("cpuset") == "/sys/fs/cgroup/cpuset");
    // "rw" and "name=systemd" are options, not controllers; tmpfs is not a cgroup.
    CHECK(m.v1_roots.count("rw") == 0);
    CHECK(m.v1_roots.count("name=systemd") == 0);
    CHECK(m.v1_roots.count("systemd") == 0);
    CHECK(m.v1_roots.size() == 5);
}

TEST_CASE("cgroup: mountinfo of a pure v2 host", "[cgroup]") {
    const CgroupMounts m = parse_cgroup_mountinfo(kPureV2Mountinfo);
    CHECK(m.v2_root == "/sys/fs/cgroup");
    CHECK(m.v1_roots.empty());
}

TEST_CASE("cgroup: mountinfo with co-mounted cpu,cpuacct", "[cgroup]") {
    const CgroupMounts m = parse_cgroup_mountinfo(kComountedMountinfo);
    CHECK(m.v2_root.empty());
    CHECK(m.v1_roots.at("cpu") == "/sys/fs/cgroup/cpu,cpuacct");
    CHECK(m.v1_roots.at("cpuacct") == "/sys/fs/cgroup/cpu,cpuacct");
    CHECK(m.v1_roots.at("net_cls") == "/sys/fs/cgroup/net_cls,net_prio");
    CHECK(m.v1_roots.count("xattr") == 0);
    CHECK(m.v1_roots.count("release_agent=/lib/systemd/systemd-cgroups-agent") == 0);
}

TEST_CASE("cgroup: mountinfo escapes, duplicates and junk", "[cgroup]") {
    const CgroupMounts m = parse_cgroup_mountinfo(
        "not a mountinfo line\n"
        "\n"
        "50 1 0:40 / /run/my\\040cgroups rw - cgroup2 none rw\n"
        "51 1 0:40 / /mnt/second rw - cgroup2 none rw\n"
        "52 1 0:41 / /a\\134b rw shared:1 master:2 - cgroup cgroup rw,memory\n"
        "53 1 0:41 /sub /c rw - cgroup cgroup rw,memory\n"
        "54 1 0:42 / /d rw - cgroup\n");
    CHECK(m.v2_root == "/run/my cgroups");
    CHECK(m.v1_roots.at("memory") == "/a\\b");
    CHECK(m.v1_roots.size() == 1);
}

TEST_CASE("cgroup: mountinfo of this machine parses", "[cgroup]") {
    const CgroupMounts m = read_cgroup_mounts();
    INFO("v2 root: " << m.v2_root << ", v1 hierarchies: " << m.v1_roots.size());
    CHECK((!m.v2_root.empty() || !m.v1_roots.empty()));
}

// ---- limits as files -------------------------------------------------------------------------

TEST_CASE("cgroup: v2 limit files", "[cgroup]") {
    const CgroupLimits limits{256ULL << 20, 100, 1.5};
    CHECK(v2_limit_files(limits) == Files{{"memory.max", "268435456"},
                                          {"memory.swap.max", "0"},
                                          {"pids.max", "100"},
                                          {"cpu.max", "150000 100000"}});
    CHECK(v2_limit_files(limits, false) ==
          Files{{"memory.max", "268435456"}, {"pids.max", "100"}, {"cpu.max", "150000 100000"}});
    CHECK(v2_limit_files(CgroupLimits{}).empty());
    CHECK(v2_limit_files(CgroupLimits{0, 0, 0.5}) == Files{{"cpu.max", "50000 100000"}});
    // The kernel's minimum quota is 1 ms.
    CHECK(v2_limit_files(CgroupLimits{0, 0, 0.001}) == Files{{"cpu.max", "1000 100000"}});
    CHECK_THROWS_AS(v2_limit_files(CgroupLimits{0, 0, -1}), Error);
}

TEST_CASE("cgroup: v1 limit files, memsw after memory", "[cgroup]") {
    const CgroupLimits limits{64ULL << 20, 16, 0.5};
    const auto with_memsw = v1_limit_files(limits, true);
    REQUIRE(with_memsw.size() == 3);
    CHECK(with_memsw[0].first == "memory");
    CHECK(with_memsw[0].second == Files{{"memory.limit_in_bytes", "67108864"},
                                        {"memory.memsw.limit_in_bytes", "67108864"}});
    CHECK(with_memsw[1].first == "pids");
    CHECK(with_memsw[1].second == Files{{"pids.max", "16"}});
    CHECK(with_memsw[2].first == "cpu");
    CHECK(with_memsw[2].second ==
          Files{{"cpu.cfs_period_us", "100000"}, {"cpu.cfs_quota_us", "50000"}});

    const auto without = v1_limit_files(limits, false);
    REQUIRE(without.size() == 3);
    CHECK(without[0].second == Files{{"memory.limit_in_bytes", "67108864"}});
    CHECK(v1_limit_files(CgroupLimits{}, true).empty());
}

TEST_CASE("cgroup: flat-keyed files", "[cgroup]") {
    const std::string oom = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
    CHECK(keyed_value(oom, "oom_kill") == 3u);
    CHECK(keyed_value(oom, "oom_kill_disable") == 0u);
    CHECK_FALSE(keyed_value(oom, "oom").has_value());
    const std::string stat = "usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n";
    CHECK(keyed_value(stat, "usage_usec") == 123456u);
    CHECK(keyed_value(stat, "system_usec") == 23456u);
}

TEST_CASE("cgroup: write_cgroup_files into a directory", "[cgroup]") {
    TempDir dir;
    touch(dir.path / "memory.max");
    touch(dir.path / "pids.max");
    write_cgroup_files(dir.path, {{"memory.max", "268435456"}, {"pids.max", "100"}});
    CHECK(slurp(dir.path / "memory.max") == "268435456");
    CHECK(slurp(dir.path / "pids.max") == "100");

    // Control files are never created: a misspelt name fails.
    CHECK_THROWS_WITH(write_cgroup_files(dir.path, {{"memory.maxx", "1"}}),
                      "cgroup: write " + (dir.path / "memory.maxx").string() +
                          " = 1: ENOENT (No such file or directory)");
    CHECK_FALSE(fs::exists(dir.path / "memory.maxx"));
}

TEST_CASE("cgroup: write_cgroup_files into a missing directory names it", "[cgroup]") {
    CHECK_THROWS_WITH(write_cgroup_files("/nonexistent-jobcell/jobcell-1-ab",
                                         {{"memory.limit_in_bytes", "268435456"}}),
                      "cgroup: write /nonexistent-jobcell/jobcell-1-ab/memory.limit_in_bytes = "
                      "268435456: ENOENT (No such file or directory)");
}

TEST_CASE("cgroup: cell names are checked", "[cgroup]") {
    CgroupMounts m;
    CHECK_THROWS_WITH(create_cell_cgroup(m, "../x", {}), "cgroup: invalid cell name '../x'");
    CHECK_THROWS_WITH(create_cell_cgroup(m, "", {}), "cgroup: invalid cell name ''");
}

TEST_CASE("cgroup: collect_dead_cgroups removes only dead creators' cells", "[cgroup]") {
    TempDir dir;
    const fs::path mem = dir.path / "memory";
    const fs::path pids = dir.path / "pids";
    const std::string dead = "jobcell-" + std::to_string(dead_pid()) + "-dead";
    const std::string live = "jobcell-" + std::to_string(getpid()) + "-live";
    for (const fs::path& d : {mem / dead, mem / live, mem / "jobcell-notapid", mem / "other",
                              pids / dead, pids / dead / "nested"}) {
        fs::create_directories(d);
    }
    CgroupMounts m;
    m.v1_roots = {{"memory", mem}, {"pids", pids}};
    CHECK(collect_dead_cgroups(m) == 2);
    CHECK_FALSE(fs::exists(mem / dead));
    CHECK_FALSE(fs::exists(pids / dead));
    CHECK(fs::exists(mem / live));
    CHECK(fs::exists(mem / "jobcell-notapid"));
    CHECK(fs::exists(mem / "other"));
}

TEST_CASE("cgroup: collect_dead_cgroups reports what it cannot remove, without throwing",
          "[cgroup]") {
    TempDir dir;
    const std::string dead = "jobcell-" + std::to_string(dead_pid()) + "-stuck";
    const fs::path stuck = dir.path / "memory" / dead;
    fs::create_directories(stuck);
    touch(stuck / "not-a-cgroup-file");  // rmdir: ENOTEMPTY
    CgroupMounts m;
    m.v1_roots = {{"memory", dir.path / "memory"}};
    std::vector<std::string> failures;
    CHECK(collect_dead_cgroups(m, &failures) == 0);
    REQUIRE(failures.size() == 1);
    CHECK(failures[0] == stuck.string() + " (ENOTEMPTY (Directory not empty))");
    CHECK(collect_dead_cgroups(m) == 0);
}

// ---- on this machine's kernel (root) -----------------------------------------------------------

namespace {

std::string random_cell_name() {
    std::random_device rd;
    std::ostringstream out;
    out << getpid() << "-" << std::hex << rd() << rd();
    return out.str();
}

// Every hierarchy root of the machine.
std::vector<fs::path> all_roots(const CgroupMounts& m) {
    std::vector<fs::path> roots;
    if (!m.v2_root.empty()) roots.push_back(m.v2_root);
    for (const auto& [c, root] : m.v1_roots) {
        if (std::find(roots.begin(), roots.end(), root) == roots.end()) roots.push_back(root);
    }
    return roots;
}

std::vector<fs::path> leftovers(const CgroupMounts& m, const std::string& name) {
    std::vector<fs::path> left;
    for (const fs::path& root : all_roots(m)) {
        if (fs::exists(root / ("jobcell-" + name))) left.push_back(root / ("jobcell-" + name));
    }
    return left;
}

std::string join(const std::vector<fs::path>& paths) {
    std::string out;
    for (const fs::path& p : paths) out += " " + p.string();
    return out;
}

void require_root() {
    INFO("the [kernel] cgroup tests need root; exclude them with \"~[kernel]\"");
    REQUIRE(geteuid() == 0);
}

// A child that waits for "go" on a pipe, runs body(report_fd), then sleeps until killed. It dies
// with the test process and by alarm, so nothing outlives a failed test for long.
struct CellChild {
    pid_t pid = -1;
    int go = -1;      // write end
    int report = -1;  // read end
    void release() {
        REQUIRE(write(go, "g", 1) == 1);
        close(go);
        go = -1;
    }
    template <typename T>
    bool read_report(T& out) {
        return read(report, &out, sizeof out) == static_cast<ssize_t>(sizeof out);
    }
    int wait_status() {
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        return status;
    }
    ~CellChild() {
        if (go >= 0) close(go);
        if (report >= 0) close(report);
    }
};

void spawn(CellChild& child, const std::function<void(int)>& body) {
    int go[2], report[2];
    REQUIRE(pipe2(go, O_CLOEXEC) == 0);
    REQUIRE(pipe2(report, O_CLOEXEC) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        alarm(60);
        close(go[1]);
        close(report[0]);
        char c;
        if (read(go[0], &c, 1) != 1) _exit(90);
        body(report[1]);
        for (;;) pause();
    }
    close(go[0]);
    close(report[1]);
    child.pid = pid;
    child.go = go[1];
    child.report = report[0];
}

void burn_cpu(std::chrono::milliseconds how_long) {
    timespec start{}, now{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &start);
    do {
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 <
             how_long.count());
}

void touch_memory(std::size_t bytes) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) _exit(91);
    std::memset(p, 1, bytes);
}

}  // namespace

TEST_CASE("cgroup: a real cell cgroup limits, counts and cleans up", "[cgroup][kernel]") {
    require_root();
    const CgroupMounts mounts = read_cgroup_mounts();
    const CgroupVersion version = choose_cgroup_version(mounts);
    const std::string name = random_cell_name();
    const CgroupLimits limits{64ULL << 20, 16, 0.5};
    auto cell = create_cell_cgroup(mounts, name, limits);
    REQUIRE(cell->version() == version);
    const std::string dir_name = "jobcell-" + name;

    // The limits landed.
    if (version == CgroupVersion::v2) {
        const fs::path dir = mounts.v2_root / dir_name;
        CHECK(trimmed(slurp(dir / "memory.max")) == "67108864");
        if (fs::exists(dir / "memory.swap.max"))
            CHECK(trimmed(slurp(dir / "memory.swap.max")) == "0");
        CHECK(trimmed(slurp(dir / "pids.max")) == "16");
        CHECK(trimmed(slurp(dir / "cpu.max")) == "50000 100000");
        CHECK(cell->clone_into_fd() >= 0);
    } else {
        const fs::path memory = mounts.v1_roots.at("memory") / dir_name;
        CHECK(trimmed(slurp(memory / "memory.limit_in_bytes")) == "67108864");
        if (fs::exists(memory / "memory.memsw.limit_in_bytes")) {
            CHECK(trimmed(slurp(memory / "memory.memsw.limit_in_bytes")) == "67108864");
        }
        CHECK(trimmed(slurp(mounts.v1_roots.at("pids") / dir_name / "pids.max")) == "16");
        const fs::path cpu = mounts.v1_roots.at("cpu") / dir_name;
        CHECK(trimmed(slurp(cpu / "cpu.cfs_period_us")) == "100000");
        CHECK(trimmed(slurp(cpu / "cpu.cfs_quota_us")) == "50000");
        CHECK(cell->clone_into_fd() == -1);
    }

    // A member: touches 16 MiB, burns CPU, then forks until pids.max stops it.
    struct Report {
        int forked;
        int error;
    };
    CellChild child;
    spawn(child, [](int report_fd) {
        touch_memory(16u << 20);
        burn_cpu(std::chrono::milliseconds(60));
        Report r{0, 0};
        for (int i = 0; i < 20; ++i) {
            const pid_t p = fork();
            if (p == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                alarm(60);
                for (;;) pause();
            }
            if (p < 0) {
                r.error = errno;
                break;
            }
            ++r.forked;
        }
        if (write(report_fd, &r, sizeof r) != sizeof r) _exit(92);
    });
    cell->add_process(child.pid);
    child.release();
    Report report{};
    REQUIRE(child.read_report(report));
    // pids.max counts the member itself: 15 more, then EAGAIN.
    CHECK(report.forked == 15);
    CHECK(report.error == EAGAIN);

    const std::string own_cgroups = slurp("/proc/" + std::to_string(child.pid) + "/cgroup");
    INFO("/proc/<child>/cgroup:\n" << own_cgroups);
    CHECK(own_cgroups.find("/" + dir_name) != std::string::npos);

    const CgroupUsage usage = cell->usage();
    INFO("peak " << usage.peak_memory_bytes << " B, cpu " << usage.cpu_usec << " us, oom "
                 << usage.oom_kills);
    CHECK(usage.peak_memory_bytes >= (16u << 20));
    CHECK(usage.peak_memory_bytes <= (64u << 20));
    CHECK(usage.cpu_usec >= 30000);
    CHECK(usage.oom_kills == 0);

    // The destructor kills the member and its children and removes every directory.
    cell.reset();
    const int status = child.wait_status();
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);
    const std::vector<fs::path> left = leftovers(mounts, name);
    INFO("left behind:" << join(left));
    CHECK(left.empty());
}

TEST_CASE("cgroup: an OOM kill in a real cell is counted", "[cgroup][kernel]") {
    require_root();
    const CgroupMounts mounts = read_cgroup_mounts();
    const std::string name = random_cell_name();
    auto cell = create_cell_cgroup(mounts, name, CgroupLimits{32ULL << 20, 0, 0});
    CellChild child;
    spawn(child, [](int) { touch_memory(128u << 20); });
    cell->add_process(child.pid);
    child.release();
    const int status = child.wait_status();
    INFO("status " << status);
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);
    const CgroupUsage usage = cell->usage();
    CHECK(usage.oom_kills >= 1);
    CHECK(usage.peak_memory_bytes <= (32u << 20));
    cell.reset();
    CHECK(leftovers(mounts, name).empty());
}

TEST_CASE("cgroup: v2 mechanics on this machine's unified hierarchy", "[cgroup][kernel]") {
    // On a hybrid host the unified hierarchy has no controllers, but creating, joining with
    // clone3(CLONE_INTO_CGROUP), cgroup.kill and removal still work there: exercise CgroupV2
    // with no limits. On a pure v2 host this is the real thing.
    require_root();
    const CgroupMounts mounts = read_cgroup_mounts();
    if (mounts.v2_root.empty()) {
        FAIL("no cgroup2 mount on this machine; exclude with \"~[kernel]\"");
    }
    const std::string name = random_cell_name();
    auto cell =
        std::make_unique<CgroupV2>(mounts.v2_root, mounts.v2_controllers, name, CgroupLimits{});
    const fs::path dir = mounts.v2_root / ("jobcell-" + name);
    REQUIRE(fs::is_directory(dir));
    REQUIRE(cell->clone_into_fd() >= 0);

    clone_args args{};
    args.flags = CLONE_INTO_CGROUP;
    args.exit_signal = SIGCHLD;
    args.cgroup = static_cast<std::uint64_t>(cell->clone_into_fd());
    const long pid = syscall(SYS_clone3, &args, sizeof args);
    REQUIRE(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        alarm(60);
        for (;;) pause();
    }
    const std::vector<pid_t> members = cgroup_procs(dir);
    CHECK(members == std::vector<pid_t>{static_cast<pid_t>(pid)});
    const std::string own = slurp("/proc/" + std::to_string(pid) + "/cgroup");
    INFO("/proc/<child>/cgroup:\n" << own);
    CHECK(own.find("0::/jobcell-" + name + "\n") != std::string::npos);
    const CgroupUsage usage = cell->usage();  // no controllers: zeros, but no error
    (void)usage;

    cell.reset();  // cgroup.kill
    int status = 0;
    waitpid(static_cast<pid_t>(pid), &status, 0);
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);
    CHECK_FALSE(fs::exists(dir));
}

TEST_CASE("cgroup: gc kills and removes a cell whose launcher died", "[cgroup][kernel]") {
    require_root();
    const CgroupMounts mounts = read_cgroup_mounts();
    CellChild member;
    spawn(member, [](int) {});
    // A "launcher" that creates a cell named after itself, puts the member in it and dies
    // without running any destructor, as a crash would.
    const pid_t launcher = fork();
    REQUIRE(launcher >= 0);
    if (launcher == 0) {
        try {
            auto cell = create_cell_cgroup(mounts, std::to_string(getpid()) + "-crashed",
                                           CgroupLimits{64ULL << 20, 16, 0});
            cell->add_process(member.pid);
            _exit(0);
        } catch (...) {
            _exit(1);
        }
    }
    int launcher_status = 0;
    waitpid(launcher, &launcher_status, 0);
    REQUIRE(WIFEXITED(launcher_status));
    REQUIRE(WEXITSTATUS(launcher_status) == 0);
    member.release();
    const std::string name = std::to_string(launcher) + "-crashed";
    const std::size_t dirs = leftovers(mounts, name).size();
    REQUIRE(dirs >= 2);

    // A live cell of ours must survive gc.
    const std::string live_name = random_cell_name();
    auto live = create_cell_cgroup(mounts, live_name, CgroupLimits{});

    CHECK(collect_dead_cgroups(mounts) >= static_cast<int>(dirs));
    const int status = member.wait_status();
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);
    CHECK(leftovers(mounts, name).empty());
    CHECK(leftovers(mounts, live_name).size() >= 2);
    live.reset();
    CHECK(leftovers(mounts, live_name).empty());
}
