// Large frames without copies: a reactor receives one straight into the vector it gives
// read_available (the next large frame reuses that buffer), and a payload sent in parts goes
// out as the frame of their concatenation, compressed or not.
#include <doctest/doctest.h>

#include <future>
#include <stdexcept>
#include <vector>

#include "netref/channel/channel.hpp"
#include "netref/stream/memory_stream.hpp"
#include "piece_stream.hpp"
#include "raw_frames.hpp"

using namespace netref;
using namespace netref::test;

namespace {

constexpr std::size_t kChunk = 64u << 10;  // the channel's read chunk

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

TEST_CASE("a payload sent in parts goes out as the frame of their concatenation, compressed or not") {
  const Bytes head = bytes_of("head of the message: ");
  const Bytes body = noise(200000, 4);
  const Bytes tail = bytes_of(" and its tail");
  Bytes whole = head;
  whole.insert(whole.end(), body.begin(), body.end());
  whole.insert(whole.end(), tail.begin(), tail.end());
  const std::span<const std::uint8_t> parts[3] = {head, body, tail};
  for (const bool compress : {false, true}) {
    for (const bool queued : {false, true}) {
      CAPTURE(compress);
      CAPTURE(queued);
      ChannelConfig config;
      config.compress = compress;
      auto [a, b] = make_memory_pair();
      Channel sender(std::move(a), config);
      auto reader = std::async(std::launch::async, [&, &in = *b] {
        RawFrame first = read_raw_frame(in);
        RawFrame second = read_raw_frame(in);
        return std::make_pair(first, second);
      });
      if (queued) {
        sender.enqueue(std::span<const std::span<const std::uint8_t>>(parts));
        sender.enqueue(whole);
        sender.flush_wait();
      } else {
        sender.send_nowait(std::span<const std::span<const std::uint8_t>>(parts));
        sender.flush_wait();
        sender.send(whole);
      }
      const auto [from_parts, from_whole] = reader.get();
      CHECK(from_parts.flag == (compress ? 1 : 0));
      CHECK(from_parts.terminator == '\n');
      CHECK(from_parts.body == from_whole.body);  // the same bytes as one contiguous payload
      CHECK((compress ? zlib_inflate(from_parts.body, whole.size()) : from_parts.body) == whole);
    }
  }
}

TEST_CASE("a payload in more parts than a channel takes is refused before anything is sent") {
  auto [a, b] = make_memory_pair();
  Channel sender(std::move(a));
  const Bytes piece = bytes_of("x");
  std::vector<std::span<const std::uint8_t>> parts(Channel::kMaxParts + 1, std::span<const std::uint8_t>(piece));
  CHECK_THROWS_AS(sender.send_nowait(std::span<const std::span<const std::uint8_t>>(parts)), std::invalid_argument);
  CHECK(sender.queued_bytes() == 0);
  CHECK_FALSE(b->poll(std::chrono::milliseconds(0)));
}
