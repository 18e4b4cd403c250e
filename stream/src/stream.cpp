// What every stream shares: blocking reads built on read_available and poll, and the plain
// forms of write_some and wait_ready for transports without a bounded buffer.
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

namespace netref {

std::size_t Stream::write_some(std::span<const std::span<const std::uint8_t>> pieces) {
  // A transport without a bounded buffer (the in-memory pair) takes everything.
  write_all(pieces);
  std::size_t total = 0;
  for (const auto& piece : pieces) total += piece.size();
  return total;
}

Stream::Ready Stream::wait_ready(bool want_read, bool want_write, std::chrono::milliseconds timeout) {
  if (want_write) return Ready{false, true};
  if (!want_read) return Ready{};
  return Ready{poll(timeout), false};
}

}  // namespace netref
