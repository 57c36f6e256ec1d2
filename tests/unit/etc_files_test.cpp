#include <catch2/catch.hpp>

#include "sandbox/etc_files.hpp"

using namespace jobcell;

TEST_CASE("generated /etc names the job user and the cell", "[etc]") {
    SandboxSpec spec;
    spec.user.name = "builder";
    spec.user.uid = 1234;
    spec.user.gid = 1235;
    spec.user.home = "/home/builder";
    auto files = generated_etc(spec);
    auto find = [&](const std::string& name) -> std::string {
        for (auto& f : files)
            if (f.name == name) return f.content;
        FAIL("no generated /etc/" << name);
        return "";
    };
    CHECK(find("passwd").find("builder:x:1234:1235:CI job:/home/builder:/bin/bash\n") != std::string::npos);
    CHECK(find("group").find("builder:x:1235:\n") != std::string::npos);
    CHECK(find("hostname") == "jobcell\n");
    CHECK(find("hosts").find("127.0.0.1\tlocalhost jobcell") != std::string::npos);
    CHECK(find("nsswitch.conf").find("passwd: files") != std::string::npos);
    for (auto& f : files) CHECK(f.name != "shadow");
}

TEST_CASE("secrets in the host's /etc are never shown, whatever the policy says", "[etc]") {
    for (const char* bad : {"shadow", "gshadow", "ssh", "ssh/ssh_host_rsa_key", "sudoers", "sudoers.d/x",
                            "ssl/private", "ssl/private/key.pem", "ssl", "gitlab-runner",
                            "gitlab-runner/config.toml", "passwd", "../root", "/etc/hosts", ""})
        CHECK_FALSE(host_etc_entry_allowed(bad));
    for (const char* ok : {"ssl/certs", "alternatives", "ld.so.cache", "localtime", "ssl/openssl.cnf"})
        CHECK(host_etc_entry_allowed(ok));
}
