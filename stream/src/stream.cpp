// The blocking convenience every stream shares, built on read_available and poll.
#include "netref/stream/stream.hpp"

namespace netref {

void Stream::read_exact(std::span<std::uint8_t> buffer) {
  std::size_t done = 0;
  while (done < buffer.size()) {
    const std::size_t n = read_available(buffer.subspan(done));
    done += n;
    if (n == 0) poll(std::chrono::milliseconds(-1));
  }
}

}  // namespace netref
