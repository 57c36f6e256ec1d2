#include "net/uplink.hpp"

#include "net/host_network.hpp"
#include "net/link.hpp"
#include "net/slirp_uplink.hpp"

namespace jobcell {

void CellUplink::plan_egress(const SandboxSpec& spec, const std::vector<std::string>& gateways) {
    if (spec.network == "allowlist") entries_ = parse_allowlist(spec.allow);
    host_addresses_ = local_addresses();
    host_addresses_.insert(host_addresses_.end(), gateways.begin(), gateways.end());
    ruleset_ = generate_egress_ruleset({spec.network, entries_, host_addresses_});
    config_.ruleset = ruleset_.script;
}

std::unique_ptr<CellUplink> make_cell_uplink(const SandboxSpec& spec) {
    if (spec.rootless) return std::make_unique<SlirpUplink>(spec);
    return std::make_unique<HostNetwork>(spec);
}

}  // namespace jobcell
