// Fuzz target L2 (docs/FAULTS.md §6): the compressed flag and inflate, with the size caps.
// Three modes, picked by byte 0 (bits 0-1); bits 2-4 pick max_inflated_bytes:
//  0: the rest is the payload of a flag-1 frame. recv must return exactly what zlib's one-shot
//     uncompress2 makes of it (one whole zlib stream, nothing after it, at most the cap), or
//     throw ProtocolError when the model refuses it (B2, B3, B5, B6).
//  1: the rest is a plain payload sent through a compressing Channel (threshold and level from
//     byte 1) and received by another: the bytes come back identical, or, when compressed and
//     over the cap, recv refuses them (B8).
//  2: as 1, but the compressed frame is damaged first (byte 1 picks truncation, a bit flip, an
//     appended byte, a preset-dictionary flag or a gzip wrapper), then checked as in mode 0.
// A zlib bomb with a 16 MiB cap must stay within -rss_limit_mb / -malloc_limit_mb.
#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "inflate_model.hpp"
#include "netref/channel/channel.hpp"
#include "netref/stream/memory_stream.hpp"

namespace {

using netref::fuzz::Input;

constexpr std::size_t kMaxInflated[] = {0, 1, 100, 3000, 65536, 1u << 20, 4u << 20, 16u << 20};
constexpr std::size_t kThresholds[] = {0, 1, 64, 3000};

std::vector<std::uint8_t> frame_of(std::span<const std::uint8_t> payload, std::uint8_t flag) {
  const auto n = static_cast<std::uint32_t>(payload.size());
  // Sized once and filled in place (GCC 12 misreads an insert after a 5-byte list as out of bounds).
  std::vector<std::uint8_t> f(5 + payload.size() + 1);
  f[0] = static_cast<std::uint8_t>(n >> 24);
  f[1] = static_cast<std::uint8_t>(n >> 16);
  f[2] = static_cast<std::uint8_t>(n >> 8);
  f[3] = static_cast<std::uint8_t>(n);
  f[4] = flag;
  std::copy(payload.begin(), payload.end(), f.begin() + 5);
  f.back() = '\n';
  return f;
}

// Receives one frame from bytes written raw; nullopt for ProtocolError.
std::optional<std::vector<std::uint8_t>> receive_raw(const std::vector<std::uint8_t>& wire, const netref::ChannelConfig& cfg) {
  auto [writer, reader] = netref::make_memory_pair();
  writer->write_all(wire);
  netref::Channel channel(std::move(reader), cfg);
  try {
    return channel.recv();
  } catch (const netref::ProtocolError&) {
    return std::nullopt;
  }
}

void check_against_model(std::span<const std::uint8_t> compressed, const netref::ChannelConfig& cfg) {
  const auto expected = netref::fuzz::model_inflate(compressed, cfg.max_inflated_bytes);
  const auto got = receive_raw(frame_of(compressed, 1), cfg);
  NETREF_FUZZ_CHECK(got.has_value() == expected.has_value(),
                    std::string("the channel ") + (got ? "accepted" : "refused") + " a zlib payload of " +
                        std::to_string(compressed.size()) + " bytes that the model " + (expected ? "accepts" : "refuses"));
  if (got) {
    NETREF_FUZZ_CHECK(got->size() <= cfg.max_inflated_bytes, "an inflated payload exceeds max_inflated_bytes");
    NETREF_FUZZ_CHECK(*got == *expected, "the inflated payload differs from zlib's");
  }
}

// Damages a valid zlib stream the way docs/FAULTS.md B5 lists.
void damage(std::vector<std::uint8_t>& z, Input& in) {
  const std::uint8_t how = in.u8();
  const std::size_t where = z.empty() ? 0 : in.u16() % z.size();
  switch (how % 6) {
    case 0: z.resize(where); break;                                    // truncated
    case 1: if (!z.empty()) z[where] ^= static_cast<std::uint8_t>(1u << (how >> 5)); break;  // a bit flip
    case 2: z.push_back(in.u8()); break;                               // trailing byte
    case 3: z.insert(z.end(), z.begin(), z.end()); break;              // two streams back to back
    case 4:                                                            // FDICT set (header fixed up)
      if (z.size() >= 2) {
        const unsigned flg = (z[1] & 0xC0u) | 0x20u;
        const unsigned rem = (z[0] * 256u + flg) % 31u;
        z[1] = static_cast<std::uint8_t>(flg + (rem != 0 ? 31 - rem : 0));
      }
      break;
    default: {  // a gzip wrapper instead of zlib's
      std::vector<std::uint8_t> g = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
      if (z.size() > 6) g.insert(g.end(), z.begin() + 2, z.end() - 4);
      z.swap(g);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  const std::uint8_t config = in.u8();
  netref::ChannelConfig cfg;
  cfg.max_inflated_bytes = kMaxInflated[(config >> 2) & 7];
  cfg.max_frame_bytes = 16u << 20;
  const unsigned mode = config & 3;

  if (mode == 0 || mode == 3) {
    check_against_model(in.rest(), cfg);
    return 0;
  }

  const std::uint8_t knobs = in.u8();
  netref::ChannelConfig send_cfg = cfg;
  send_cfg.compress = true;
  send_cfg.compression_threshold = kThresholds[knobs & 3];
  send_cfg.compression_level = static_cast<int>((knobs >> 2) % 11) - 1;  // -1 (default) .. 9
  auto extra = in.bytes(mode == 2 ? 3 : 0);
  Input damage_in(extra.data(), extra.size());
  auto payload = in.rest();

  auto [a, b] = netref::make_memory_pair();
  netref::Channel sender(std::move(a), send_cfg);
  sender.send(payload);
  std::vector<std::uint8_t> wire(5);
  b->read_exact(wire);
  const std::uint32_t length = std::uint32_t{wire[0]} << 24 | std::uint32_t{wire[1]} << 16 | std::uint32_t{wire[2]} << 8 | wire[3];
  const bool compressed = payload.size() > send_cfg.compression_threshold;
  NETREF_FUZZ_CHECK(wire[4] == (compressed ? 1 : 0), "the flag does not match the threshold");
  std::vector<std::uint8_t> body(std::size_t{length} + 1);
  b->read_exact(body);
  NETREF_FUZZ_CHECK(body.back() == '\n', "a sent frame does not end with '\\n'");
  body.pop_back();

  if (mode == 1) {
    const auto got = receive_raw(frame_of(body, wire[4]), cfg);
    if (compressed && payload.size() > cfg.max_inflated_bytes) {
      NETREF_FUZZ_CHECK(!got, "a payload over max_inflated_bytes was accepted");
    } else {
      NETREF_FUZZ_CHECK(got.has_value(), "a payload the channel sent itself was refused");
      NETREF_FUZZ_CHECK(std::equal(got->begin(), got->end(), payload.begin(), payload.end()),
                        "a payload did not survive send and recv");
    }
    return 0;
  }
  if (!compressed) return 0;
  damage(body, damage_in);
  check_against_model(body, cfg);
  return 0;
}
