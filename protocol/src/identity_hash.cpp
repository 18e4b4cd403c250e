// identity_hash: SipHash-2-4 (Aumasson and Bernstein) of one 64-bit word, under a key drawn
// from std::random_device once per process.
#include "netref/protocol/detail/identity_hash.hpp"

#include <bit>
#include <random>

namespace netref::detail {
namespace {

struct Key {
  std::uint64_t k0;
  std::uint64_t k1;
};

Key process_key() {
  static const Key key = [] {
    std::random_device device;
    auto word = [&] { return (std::uint64_t{device()} << 32) ^ device(); };
    return Key{word(), word()};
  }();
  return key;
}

struct State {
  std::uint64_t v0, v1, v2, v3;
  void round() noexcept {
    v0 += v1;
    v1 = std::rotl(v1, 13) ^ v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16) ^ v2;
    v0 += v3;
    v3 = std::rotl(v3, 21) ^ v0;
    v2 += v1;
    v1 = std::rotl(v1, 17) ^ v2;
    v2 = std::rotl(v2, 32);
  }
};

std::uint64_t siphash24(std::uint64_t message, Key key) noexcept {
  State s{key.k0 ^ 0x736f6d6570736575ull, key.k1 ^ 0x646f72616e646f6dull, key.k0 ^ 0x6c7967656e657261ull,
          key.k1 ^ 0x7465646279746573ull};
  const auto absorb = [&](std::uint64_t m) {
    s.v3 ^= m;
    s.round();
    s.round();
    s.v0 ^= m;
  };
  absorb(message);
  absorb(std::uint64_t{8} << 56);  // the length block: 8 bytes, no tail
  s.v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

}  // namespace

std::int64_t identity_hash(const void* identity) noexcept {
  const auto address = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(identity));
  return static_cast<std::int64_t>(siphash24(address, process_key()) & 0x7fffffffffffffffull);
}

}  // namespace netref::detail
