#pragma once
// The reference for what Channel::recv must make of a zlib payload, built on zlib's one-shot
// uncompress2 rather than the channel's incremental loop: the frame is accepted exactly when
// the payload is one whole zlib stream, with nothing after it, that inflates to at most limit
// bytes.
#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

namespace netref::fuzz {

/// The inflated payload, or nullopt when the channel must refuse it.
inline std::optional<std::vector<std::uint8_t>> model_inflate(std::span<const std::uint8_t> compressed,
                                                              std::size_t limit) {
  // One byte of room past the limit tells "exactly the limit" from "over it". Deflate expands
  // at most 1032:1, so a short payload needs far less than a 16 MiB cap: allocating the cap
  // every run would make the fuzzer crawl.
  const std::size_t room = std::min(limit + 1, compressed.size() * 1032 + 1024);
  std::unique_ptr<std::uint8_t[]> out(new std::uint8_t[room]);
  uLongf produced = static_cast<uLongf>(room);
  uLong consumed = static_cast<uLong>(compressed.size());
  static const std::uint8_t kNothing = 0;
  const int rc = uncompress2(out.get(), &produced, compressed.empty() ? &kNothing : compressed.data(), &consumed);
  if (rc != Z_OK || consumed != compressed.size() || produced > limit) return std::nullopt;
  return std::vector<std::uint8_t>(out.get(), out.get() + produced);
}

}  // namespace netref::fuzz
