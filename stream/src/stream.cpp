// The blocking reads every stream shares, built on read_available and poll.
#include "netref/stream/stream.hpp"

namespace netref {

std::size_t Stream::read_some(std::span<std::uint8_t> buffer, std::chrono::milliseconds timeout) {
  const std::size_t n = read_available(buffer);
  if (n != 0 || buffer.empty() || timeout.count() == 0) return n;
  if (!poll(timeout)) return 0;
  return read_available(buffer);  // 0 is possible: a TLS record that is not whole yet
}

void Stream::read_exact(std::span<std::uint8_t> buffer) {
  std::size_t done = 0;
  while (done < buffer.size()) done += read_some(buffer.subspan(done), std::chrono::milliseconds(-1));
}

}  // namespace netref
