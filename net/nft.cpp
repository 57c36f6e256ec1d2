#include "net/nft.hpp"

#include <nftables/libnftables.h>

#include "sandbox/error.hpp"

namespace jobcell {
namespace {

std::string one_line(std::string text) {
    // nft's messages span lines (the input line, then carets); the first says what is wrong.
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    if (auto newline = text.find('\n'); newline != std::string::npos) text.resize(newline);
    return text;
}

}  // namespace

void NftContext::Free::operator()(nft_ctx* ctx) const { nft_ctx_free(ctx); }

NftContext::NftContext() : ctx_(nft_ctx_new(NFT_CTX_DEFAULT)) {
    if (!ctx_) throw Error("nftables: cannot create a context");
    nft_ctx_buffer_output(ctx_.get());
    nft_ctx_buffer_error(ctx_.get());
}

void NftContext::run(const std::string& what, const std::string& script) {
    nft_ctx_output_set_flags(ctx_.get(), 0);
    if (nft_run_cmd_from_buffer(ctx_.get(), script.c_str()) != 0)
        throw Error(what + ": nft: " + one_line(nft_ctx_get_error_buffer(ctx_.get())));
}

std::string NftContext::run_json(const std::string& what, const std::string& command) {
    nft_ctx_output_set_flags(ctx_.get(), NFT_CTX_OUTPUT_JSON);
    const int rc = nft_run_cmd_from_buffer(ctx_.get(), command.c_str());
    nft_ctx_output_set_flags(ctx_.get(), 0);
    if (rc != 0) throw Error(what + ": nft: " + one_line(nft_ctx_get_error_buffer(ctx_.get())));
    return nft_ctx_get_output_buffer(ctx_.get());
}

bool NftContext::try_run(const std::string& script) {
    nft_ctx_output_set_flags(ctx_.get(), 0);
    return nft_run_cmd_from_buffer(ctx_.get(), script.c_str()) == 0;
}

}  // namespace jobcell
