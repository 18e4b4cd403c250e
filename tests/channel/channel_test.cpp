// Channel round trips: sizes around the compression threshold, the bytes on the wire, and
// frames that arrive in pieces.
#include "netref/channel/channel.hpp"

#include <doctest/doctest.h>

#include <future>
#include <thread>

#include "netref/stream/memory_stream.hpp"
#include "netref/stream/socket_stream.hpp"
#include "raw_frames.hpp"

using namespace netref;
using namespace netref::test;

namespace {

Bytes patterned(std::size_t size) {
  Bytes out(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::uint8_t>((i * 31) % 251);
  return out;
}

}  // namespace

TEST_CASE("payloads around the compression threshold round-trip with the right flag on the wire") {
  for (const bool compress : {true, false}) {
    for (const std::size_t size : {0u, 1u, 2999u, 3000u, 3001u, 3002u, 100000u}) {
      CAPTURE(compress);
      CAPTURE(size);
      const Bytes payload = patterned(size);
      ChannelConfig config;
      config.compress = compress;

      // What the sender puts on the wire.
      auto [a, b] = make_memory_pair();
      Channel sender(std::move(a), config);
      sender.send(payload);
      const RawFrame raw = read_raw_frame(*b);
      const bool compressed = compress && size > 3000;
      CHECK(raw.flag == (compressed ? 1 : 0));
      CHECK(raw.terminator == '\n');
      CHECK(raw.length == raw.body.size());
      CHECK((compressed ? zlib_inflate(raw.body, size) : raw.body) == payload);

      // And that a Channel reads it back.
      auto [c, d] = make_memory_pair();
      Channel writer(std::move(c), config);
      Channel reader(std::move(d), config);
      writer.send(payload);
      writer.send(payload);  // twice: the reused buffers must not leak the first frame
      Bytes out{9, 9, 9};
      reader.recv(out);
      CHECK(out == payload);
      reader.recv(out);
      CHECK(out == payload);
    }
  }
}

TEST_CASE("sending b\"hello\" writes exactly RPyC's bytes") {
  auto [a, b] = make_memory_pair();
  Channel channel(std::move(a));
  channel.send(bytes_of("hello"));
  Bytes wire(11);
  b->read_exact(wire);
  CHECK(wire == Bytes{0x00, 0x00, 0x00, 0x05, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x0a});
  CHECK_FALSE(b->poll(std::chrono::milliseconds(0)));  // nothing more
}

TEST_CASE("a frame written one byte per write is still received whole") {
  auto [a, b] = make_memory_pair();
  Channel channel(std::move(b));
  const Bytes payload = patterned(5000);
  const Bytes wire = frame(zlib_compress(payload), 1);
  auto writer = std::async(std::launch::async, [&, &out = *a] {
    for (const std::uint8_t byte : wire) out.write_all(std::span<const std::uint8_t>(&byte, 1));
  });
  CHECK(channel.recv() == payload);
  writer.get();
}

TEST_CASE("a length-0 plain frame is returned as an empty payload") {
  auto [a, b] = make_memory_pair();
  Channel channel(std::move(b));
  a->write_all(frame({}, 0));
  Bytes out{1, 2, 3};
  channel.recv(out);
  CHECK(out.empty());
}

TEST_CASE("a channel sends and receives at the same time from two threads over TCP") {
  auto listener = listen_tcp("127.0.0.1", 0);
  auto accepted = std::async(std::launch::async, [&] { return listener->accept(); });
  Channel left(connect_tcp("127.0.0.1", listener->port()));
  Channel right(accepted.get());
  constexpr int kFrames = 200;
  // right echoes every frame back; left sends from one thread and receives on another.
  auto echo = std::async(std::launch::async, [&] {
    Bytes buffer;
    for (int i = 0; i < kFrames; ++i) {
      right.recv(buffer);
      right.send(buffer);
    }
  });
  auto sender = std::async(std::launch::async, [&] {
    for (int i = 0; i < kFrames; ++i) left.send(patterned(static_cast<std::size_t>(i) * 97));
  });
  Bytes buffer;
  int matched = 0;
  for (int i = 0; i < kFrames; ++i) {
    left.recv(buffer);
    if (buffer == patterned(static_cast<std::size_t>(i) * 97)) ++matched;
  }
  sender.get();
  echo.get();
  CHECK(matched == kFrames);
}

TEST_CASE("closing a channel wakes its receiver with ConnectionClosed") {
  auto [a, b] = make_memory_pair();
  Channel channel(std::move(b));
  auto receiver = std::async(std::launch::async, [&] { return channel.recv(); });
  REQUIRE(receiver.wait_for(std::chrono::milliseconds(50)) == std::future_status::timeout);
  channel.close();
  CHECK(channel.closed());
  CHECK_THROWS_AS(receiver.get(), ConnectionClosed);
}
