// An owned libnftables context. The netlink socket it talks through belongs to the network
// namespace the calling thread is in when the context is created, so a context created inside
// a cell keeps changing that cell's rules only.
#pragma once

#include <memory>
#include <string>

struct nft_ctx;

namespace jobcell {

class NftContext {
public:
    NftContext();  // throws Error
    // Runs an nft script; throws Error("nft: <what nft says>", with `what` first).
    void run(const std::string& what, const std::string& script);
    // Runs a command and returns its JSON output ("list table inet x"); throws like run().
    std::string run_json(const std::string& what, const std::string& command);
    // Runs a script and reports failure as false (cleanup paths that must not throw).
    bool try_run(const std::string& script);

private:
    struct Free {
        void operator()(nft_ctx* ctx) const;
    };
    std::unique_ptr<nft_ctx, Free> ctx_;
};

}  // namespace jobcell
