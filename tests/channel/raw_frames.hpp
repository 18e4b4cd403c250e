#pragma once
// Helpers for channel tests: hand-built frames and raw reads of what a Channel wrote.
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "netref/stream/stream.hpp"

namespace netref::test {

using Bytes = std::vector<std::uint8_t>;

inline Bytes bytes_of(const std::string& text) { return Bytes(text.begin(), text.end()); }

/// size bytes zlib cannot shrink (xorshift from seed): a compressed frame of them is as large
/// as they are.
inline Bytes noise(std::size_t size, std::uint32_t seed = 0) {
  Bytes out(size);
  std::uint32_t state = 2463534242u + seed;
  for (auto& byte : out) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    byte = static_cast<std::uint8_t>(state);
  }
  return out;
}

/// u32 big-endian length, flag: the 5-byte frame header.
inline Bytes header(std::uint32_t length, std::uint8_t flag) {
  return {static_cast<std::uint8_t>(length >> 24), static_cast<std::uint8_t>(length >> 16),
          static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length), flag};
}

/// A whole frame with the given flag around body, as RPyC writes it.
inline Bytes frame(const Bytes& body, std::uint8_t flag) {
  const Bytes head = header(static_cast<std::uint32_t>(body.size()), flag);
  Bytes out(head.size() + body.size() + 1);
  std::copy(head.begin(), head.end(), out.begin());
  std::copy(body.begin(), body.end(), out.begin() + static_cast<std::ptrdiff_t>(head.size()));
  out.back() = '\n';
  return out;
}

/// zlib.compress(data, level).
inline Bytes zlib_compress(const Bytes& data, int level = 1) {
  uLongf size = compressBound(static_cast<uLong>(data.size()));
  Bytes out(size);
  REQUIRE(compress2(out.data(), &size, data.data(), static_cast<uLong>(data.size()), level) == Z_OK);
  out.resize(size);
  return out;
}

/// zlib.decompress(data), for checking what a Channel sent.
inline Bytes zlib_inflate(const Bytes& data, std::size_t expected_size) {
  Bytes out(expected_size + 1);
  uLongf size = static_cast<uLongf>(out.size());
  REQUIRE(uncompress(out.data(), &size, data.data(), static_cast<uLong>(data.size())) == Z_OK);
  out.resize(size);
  return out;
}

/// One frame as written on the wire, split into its parts.
struct RawFrame {
  std::uint32_t length = 0;
  std::uint8_t flag = 0;
  Bytes body;
  std::uint8_t terminator = 0;
};

inline RawFrame read_raw_frame(Stream& stream) {
  Bytes head(5);
  stream.read_exact(head);
  RawFrame raw;
  raw.length = (std::uint32_t{head[0]} << 24) | (std::uint32_t{head[1]} << 16) |
               (std::uint32_t{head[2]} << 8) | std::uint32_t{head[3]};
  raw.flag = head[4];
  raw.body.resize(raw.length);
  stream.read_exact(raw.body);
  Bytes end(1);
  stream.read_exact(end);
  raw.terminator = end[0];
  return raw;
}

}  // namespace netref::test
