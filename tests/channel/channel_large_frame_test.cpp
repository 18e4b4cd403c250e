// Large frames without copies: a reactor receives one straight into the vector it gives
// read_available, and the next large frame reuses that buffer.
#include <doctest/doctest.h>

#include "netref/channel/channel.hpp"
#include "netref/stream/memory_stream.hpp"
#include "piece_stream.hpp"
#include "raw_frames.hpp"

using namespace netref;
using namespace netref::test;

namespace {

constexpr std::size_t kChunk = 64u << 10;  // the channel's read chunk

// Bytes zlib cannot shrink, so a compressed frame of them is as large as they are.
Bytes noise(std::size_t size, std::uint32_t seed) {
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

// Reads like a reactor: read_available into buffer until a frame is whole, then recv.
void reactor_receive(Channel& channel, Bytes& buffer) {
  while (channel.read_available(buffer) != Buffered::frame) {
  }
  channel.recv(buffer);
}

}  // namespace

TEST_CASE("a reactor receives a large frame straight into its vector, whose buffer the next one reuses") {
  const Bytes first = noise(300000, 1);
  const Bytes second = noise(290000, 2);
  const Bytes small = bytes_of("a small one behind them");
  Bytes wire = frame(first, 0);
  for (const Bytes* payload : {&second, &small}) {
    const Bytes next = frame(*payload, 0);
    wire.insert(wire.end(), next.begin(), next.end());
  }
  auto owned = std::make_unique<PieceStream>(wire, std::vector<std::size_t>{70000, 3, 9000}, PieceStream::End::eof);
  PieceStream* stream = owned.get();
  Channel channel(std::move(owned));
  std::size_t most_held = 0;  // the channel's own buffers: a large frame is not in them
  stream->on_read = [&](std::size_t) { most_held = std::max(most_held, channel.buffer_capacity()); };

  Bytes buffer;
  reactor_receive(channel, buffer);
  CHECK(buffer == first);
  const std::uint8_t* where = buffer.data();
  reactor_receive(channel, buffer);
  CHECK(buffer == second);
  CHECK(buffer.data() == where);  // no new buffer, so no copy of what had arrived
  reactor_receive(channel, buffer);
  CHECK(buffer == small);
  CHECK(most_held <= kChunk);
}

TEST_CASE("a large frame a reactor began without a vector moves into the vector recv is given") {
  for (const std::uint8_t flag : {std::uint8_t{0}, std::uint8_t{1}}) {
    CAPTURE(int{flag});
    const Bytes payload = noise(400000, 3);
    const Bytes wire = frame(flag == 0 ? payload : zlib_compress(payload), flag);
    auto [a, b] = make_memory_pair();
    Channel channel(std::move(a));
    const std::span<const std::uint8_t> bytes(wire);
    b->write_all(bytes.first(150000));
    CHECK(channel.read_available() == Buffered::partial);  // part of it is in
    b->write_all(bytes.subspan(150000));
    Bytes out{1, 2, 3};
    channel.recv(out);
    CHECK(out == payload);
    if (flag == 0) CHECK(channel.buffer_capacity() <= 2 * kChunk);  // its 400 KB did not stay behind
  }
}
