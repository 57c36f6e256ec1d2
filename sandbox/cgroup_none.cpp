// The cgroup face for rootless mode (sandbox/cgroup.hpp): nothing is created, nothing is
// limited or counted. The policy's memory and cpu limits are refused before a rootless cell is
// built (launcher/spec_resolve.cpp), and its process limit is an RLIMIT_NPROC of the cell's own
// user namespace instead.
#include "sandbox/cgroup.hpp"

namespace jobcell {
namespace {

class NoCgroup final : public CellCgroup {
public:
    void add_process(pid_t) override {}
    int clone_into_fd() const override { return -1; }
    CgroupUsage usage() const override { return {}; }
    void kill_all() override {}
    CgroupVersion version() const override { return CgroupVersion::none; }
};

}  // namespace

std::unique_ptr<CellCgroup> make_no_cgroup() { return std::make_unique<NoCgroup>(); }

}  // namespace jobcell
