#include "net/address_pool.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "sandbox/error.hpp"

namespace jobcell {
namespace {

struct Network {
    unsigned char bytes[16]{};
    int prefix = 0;
};

// "ADDR/LEN" -> Network, or a message.
std::string parse_network(const std::string& text, bool ipv6, Network& out) {
    const auto slash = text.find('/');
    if (slash == std::string::npos) return "expected ADDRESS/PREFIX";
    const std::string address = text.substr(0, slash);
    const std::string length = text.substr(slash + 1);
    const int family = ipv6 ? AF_INET6 : AF_INET;
    const int bits = ipv6 ? 128 : 32;
    if (::inet_pton(family, address.c_str(), out.bytes) != 1)
        return std::string("'") + address + "' is not an IPv" + (ipv6 ? "6" : "4") + " address";
    auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), out.prefix);
    if (ec != std::errc() || end != length.data() + length.size() || out.prefix < 0 || out.prefix > bits)
        return "bad prefix length '" + length + "'";
    const int room = ipv6 ? 126 : 30;
    if (out.prefix > room) return "prefix /" + length + " leaves no room for a cell (at most /" + std::to_string(room) + ")";
    for (int bit = out.prefix; bit < bits; ++bit) {
        if (out.bytes[bit / 8] & (0x80U >> (bit % 8))) return "host bits are set";
    }
    return "";
}

// Adds `value` (shifted left by `shift` bits) to a big-endian byte array.
void add_shifted(unsigned char* bytes, int size, unsigned value, int shift) {
    unsigned long long carry = static_cast<unsigned long long>(value) << (shift % 8);
    for (int i = size - 1 - shift / 8; i >= 0 && carry != 0; --i) {
        carry += bytes[i];
        bytes[i] = static_cast<unsigned char>(carry & 0xFFU);
        carry >>= 8;
    }
}

std::string text_of(const unsigned char* bytes, bool ipv6) {
    char buf[INET6_ADDRSTRLEN];
    ::inet_ntop(ipv6 ? AF_INET6 : AF_INET, bytes, buf, sizeof buf);
    return buf;
}

}  // namespace

std::string pool_problem(const std::string& text, bool ipv6) {
    Network network;
    return parse_network(text, ipv6, network);
}

AddressPool parse_address_pool(const std::string& pool4, const std::string& pool6) {
    Network v4, v6;
    if (auto problem = parse_network(pool4, false, v4); !problem.empty())
        throw Error("pool4 '" + pool4 + "': " + problem);
    if (auto problem = parse_network(pool6, true, v6); !problem.empty())
        throw Error("pool6 '" + pool6 + "': " + problem);
    AddressPool pool;
    std::memcpy(&pool.base4, v4.bytes, 4);
    std::memcpy(&pool.base6, v6.bytes, 16);
    pool.prefix4 = v4.prefix;
    pool.prefix6 = v6.prefix;
    const auto cells = [](int free_bits) {
        return free_bits >= 14 ? kMaxPoolCells : (1U << free_bits);
    };
    pool.capacity = std::min(cells(30 - v4.prefix), cells(126 - v6.prefix));
    return pool;
}

CellAddresses cell_addresses(const AddressPool& pool, unsigned index) {
    if (index >= pool.capacity) throw Error("address pool index " + std::to_string(index) + " is outside the pool");
    CellAddresses out;
    unsigned char v4[4];
    unsigned char v6[16];
    auto address = [&](unsigned host, bool ipv6) {
        if (ipv6) {
            std::memcpy(v6, &pool.base6, 16);
            add_shifted(v6, 16, index, 2);
            add_shifted(v6, 16, host, 0);
            return text_of(v6, true);
        }
        std::memcpy(v4, &pool.base4, 4);
        add_shifted(v4, 4, index, 2);
        add_shifted(v4, 4, host, 0);
        return text_of(v4, false);
    };
    out.host4 = address(1, false);
    out.cell4 = address(2, false);
    out.host6 = address(1, true);
    out.cell6 = address(2, true);
    return out;
}

}  // namespace jobcell
