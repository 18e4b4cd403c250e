#pragma once
// Text in and out of a Stream, for the stream tests.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "netref/stream/stream.hpp"

namespace netref::test {

inline std::vector<std::uint8_t> bytes_of(const std::string& text) {
  return std::vector<std::uint8_t>(text.begin(), text.end());
}

/// Reads exactly size bytes as a string.
inline std::string read_string(Stream& stream, std::size_t size) {
  std::vector<std::uint8_t> buffer(size);
  stream.read_exact(buffer);
  return std::string(buffer.begin(), buffer.end());
}

}  // namespace netref::test
