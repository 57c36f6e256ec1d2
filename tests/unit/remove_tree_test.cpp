#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "sandbox/remove_tree.hpp"

using namespace jobcell;
namespace fs = std::filesystem;

namespace {
fs::path scratch() {
    char tmpl[] = "/tmp/jobcell-rmtree.XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    return tmpl;
}
}  // namespace

TEST_CASE("remove_tree: a tree deeper than the descriptor limit, wide directories, no symlink followed", "[rmtree]") {
    const fs::path root = scratch();
    const fs::path outside = scratch();
    std::ofstream(outside / "keep") << "keep";
    const fs::path tree = root / "job";
    REQUIRE(::mkdir(tree.c_str(), 0755) == 0);
    fs::path deep = tree;
    for (int i = 0; i < 400; ++i) {  // deeper than the 64 descriptors the child below may hold
        deep /= "a";
        REQUIRE(::mkdir(deep.c_str(), 0755) == 0);
        if (i % 50 == 0) std::ofstream(deep / "f") << i;
    }
    for (int i = 0; i < 300; ++i) fs::create_directories(tree / "wide" / std::to_string(i) / "x");
    fs::create_directory_symlink(outside, tree / "link-out");
    fs::create_symlink(outside / "keep", deep / "file-link");
    ::chmod((tree / "wide").c_str(), 0555);  // root removes it all the same

    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        rlimit few{64, 64};
        ::setrlimit(RLIMIT_NOFILE, &few);
        try {
            remove_tree(tree.string());
        } catch (...) {
            ::_exit(1);
        }
        ::_exit(0);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK_FALSE(fs::exists(fs::symlink_status(tree)));
    CHECK(fs::exists(outside / "keep"));
    CHECK_NOTHROW(remove_tree(tree.string()));  // gone already: nothing to do
    fs::remove_all(root);
    fs::remove_all(outside);
}
