#include "sandbox/etc_files.hpp"

#include <array>
#include <string_view>

namespace jobcell {

std::vector<GeneratedFile> generated_etc(const SandboxSpec& spec) {
    const JobUser& u = spec.user;
    const std::string uid = std::to_string(u.uid);
    const std::string gid = std::to_string(u.gid);
    std::string resolv = "# jobcell: network \"" + spec.network + "\"\n";
    if (spec.network == "none") {
        resolv += "# this cell has loopback only; no name server\n";
    } else {
        // jobcell's DNS forwarder on the cell's loopback (net/dns_process.hpp): it answers
        // only what the cell may reach; no other name server is reachable from the cell.
        resolv += "nameserver 127.0.0.53\n";
    }
    return {
        {"passwd", "root:x:0:0:root:/root:/usr/sbin/nologin\n" + u.name + ":x:" + uid + ":" + gid +
                       ":CI job:" + u.home + ":/bin/bash\n" +
                       "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"},
        {"group", "root:x:0:\n" + u.name + ":x:" + gid + ":\nnogroup:x:65534:\n"},
        {"hostname", spec.hostname + "\n"},
        {"hosts", "127.0.0.1\tlocalhost " + spec.hostname +
                      "\n::1\tlocalhost ip6-localhost ip6-loopback\n"},
        {"resolv.conf", resolv},
        {"nsswitch.conf",
         "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\n"
         "protocols: files\nservices: files\nethers: files\nrpc: files\n"},
    };
}

bool host_etc_entry_allowed(const std::string& relative) {
    static constexpr std::array<std::string_view, 14> never = {
        "shadow", "gshadow", "shadow-", "gshadow-", "passwd", "group", "sudoers", "sudoers.d",
        "ssh", "ssl/private", "gitlab-runner", "jobcell", "security", "credstore"};
    if (relative.empty() || relative[0] == '/' || relative.find("..") != std::string::npos)
        return false;
    for (std::string_view bad : never) {
        if (relative == bad) return false;
        if (relative.size() > bad.size() && relative.compare(0, bad.size(), bad) == 0 &&
            relative[bad.size()] == '/')
            return false;
        if (bad.size() <= relative.size()) continue;
        // a parent of a forbidden entry ("ssl" would expose "ssl/private")
        if (bad.compare(0, relative.size(), relative) == 0 && bad[relative.size()] == '/')
            return false;
    }
    return true;
}

}  // namespace jobcell
