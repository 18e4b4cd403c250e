// Hostile or broken frame headers and terminators (docs/FAULTS.md section A, B1).
#include <doctest/doctest.h>

#include <string>

#include "netref/channel/channel.hpp"
#include "netref/stream/memory_stream.hpp"
#include "raw_frames.hpp"

using namespace netref;
using namespace netref::test;

namespace {

// A channel reading whatever the test writes to `feed`.
struct Fixture {
  StreamPtr feed;
  std::unique_ptr<Channel> channel;
  explicit Fixture(ChannelConfig config = {}) {
    auto [a, b] = make_memory_pair();
    feed = std::move(a);
    channel = std::make_unique<Channel>(std::move(b), config);
  }
};

std::string protocol_error_of(Channel& channel, Bytes* out = nullptr) {
  Bytes local;
  try {
    channel.recv(out ? *out : local);
  } catch (const ProtocolError& error) {
    return error.what();
  }
  FAIL("recv did not throw ProtocolError");
  return {};
}

}  // namespace

TEST_CASE("a frame whose flag byte is 2 or 255 is a protocol error") {
  for (const std::uint8_t flag : {std::uint8_t{2}, std::uint8_t{255}}) {
    CAPTURE(int{flag});
    Fixture f;
    f.feed->write_all(frame(bytes_of("hi"), flag));
    CHECK(protocol_error_of(*f.channel).find("invalid compressed flag " + std::to_string(flag)) !=
          std::string::npos);
  }
}

TEST_CASE("a frame of exactly max_frame_bytes is accepted and one byte more is rejected") {
  ChannelConfig config;
  config.max_frame_bytes = 64 * 1024;
  Fixture f(config);
  const Bytes at_limit(64 * 1024, 'a');
  f.feed->write_all(frame(at_limit, 0));
  CHECK(f.channel->recv() == at_limit);

  f.feed->write_all(frame(Bytes(64 * 1024 + 1, 'b'), 0));
  const std::string message = protocol_error_of(*f.channel);
  CHECK(message == "frame of 65537 bytes exceeds the limit of 65536 (max_frame_bytes)");
}

TEST_CASE("an oversized length is rejected before reading or allocating the payload") {
  for (const std::uint8_t flag : {std::uint8_t{0}, std::uint8_t{1}}) {
    Fixture f;
    Bytes wire = header(0xFFFFFFFFu, flag);
    const Bytes after = bytes_of("rest");
    wire.insert(wire.end(), after.begin(), after.end());
    f.feed->write_all(wire);
    Bytes out;
    const std::string message = protocol_error_of(*f.channel, &out);
    CHECK(message.find("frame of 4294967295 bytes exceeds the limit of 16777216") !=
          std::string::npos);
    CHECK(out.capacity() == 0);  // nothing was allocated for the claimed size
    CHECK(f.channel->buffered() == Buffered::partial);  // nor read towards it
  }
}

TEST_CASE("an HTTP request on the RPC port is rejected as an oversized frame with a hint") {
  Fixture f;
  f.feed->write_all(bytes_of("GET / HTTP/1.1\r\n\r\n"));
  const std::string message = protocol_error_of(*f.channel);
  CHECK(message.find("max_frame_bytes") != std::string::npos);
  CHECK(message.find("HTTP?") != std::string::npos);
}

TEST_CASE("a header cut short by EOF is ConnectionClosed") {
  for (std::size_t cut = 0; cut < 5; ++cut) {
    CAPTURE(cut);
    Fixture f;
    const Bytes whole = frame(bytes_of("hello"), 0);
    f.feed->write_all(std::span<const std::uint8_t>(whole.data(), cut));
    f.feed->close();
    CHECK_THROWS_AS(f.channel->recv(), ConnectionClosed);
  }
}

TEST_CASE("a payload cut short by EOF is ConnectionClosed") {
  Fixture f;
  Bytes wire = header(1000, 0);
  wire.resize(wire.size() + 10, 'x');
  f.feed->write_all(wire);
  f.feed->close();
  CHECK_THROWS_AS(f.channel->recv(), ConnectionClosed);
}

TEST_CASE("a frame missing its '\\n' terminator is a protocol error") {
  Fixture f;
  Bytes wire = frame(bytes_of("hello"), 0);
  wire.back() = 'X';
  f.feed->write_all(wire);
  CHECK(protocol_error_of(*f.channel) == "frame of 5 bytes ends with 0x58 instead of '\\n'");
}

TEST_CASE("a compressed frame missing its '\\n' terminator is a protocol error") {
  Fixture f;
  Bytes wire = frame(zlib_compress(bytes_of("hello")), 1);
  wire.back() = 0;
  f.feed->write_all(wire);
  CHECK(protocol_error_of(*f.channel).find("instead of '\\n'") != std::string::npos);
}

TEST_CASE("a frame that stops arriving fails recv with Timeout at frame_timeout, small or large") {
  ChannelConfig config;
  config.frame_timeout = std::chrono::milliseconds(100);
  for (const std::uint32_t announced : {100u, 1u << 20}) {  // buffered, and read straight into out
    CAPTURE(announced);
    Fixture f(config);
    Bytes wire = header(announced, 0);
    wire.resize(wire.size() + 10, 'x');  // ten payload bytes, then silence
    f.feed->write_all(wire);
    Bytes out;
    const auto start = std::chrono::steady_clock::now();
    try {
      f.channel->recv(out);
      FAIL("recv did not time out");
    } catch (const Timeout& e) {
      CHECK(std::string(e.what()).find("frame not complete after 100 ms") != std::string::npos);
    }
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(90));
  }
}

TEST_CASE("a channel with no byte of a frame waits without a frame timeout, and read_available never blocks") {
  ChannelConfig config;
  config.frame_timeout = std::chrono::milliseconds(50);
  Fixture f(config);
  CHECK(f.channel->read_available() == Buffered::nothing);
  CHECK_FALSE(f.channel->poll(std::chrono::milliseconds(100)));  // idle is not a stalled frame
  Bytes wire = header(3, 0);
  f.feed->write_all(wire);
  CHECK(f.channel->read_available() == Buffered::partial);
  const Bytes rest = bytes_of("abc\n");
  f.feed->write_all(rest);
  CHECK(f.channel->read_available() == Buffered::frame);
  Bytes out;
  f.channel->recv(out);
  CHECK(out == bytes_of("abc"));
  CHECK(f.channel->buffered() == Buffered::nothing);
}

TEST_CASE("read_available with Refill::unless_drained reads the stream only if the last read filled its room") {
  Fixture f;
  Bytes buffer;
  Bytes out;
  // A short read: the stream held no more then, so what comes later is the poller's news.
  f.feed->write_all(frame(bytes_of("abc"), 0));
  CHECK(f.channel->read_available(buffer) == Buffered::frame);
  f.channel->recv(out);
  CHECK(out == bytes_of("abc"));
  f.feed->write_all(frame(bytes_of("def"), 0));
  CHECK(f.channel->read_available(buffer, Refill::unless_drained) == Buffered::nothing);
  CHECK(f.channel->read_available(buffer, Refill::always) == Buffered::frame);
  f.channel->recv(out);
  CHECK(out == bytes_of("def"));

  // A read that filled its room (a read chunk of many small frames): more may wait in the
  // stream, so the buffer's frames served, unless_drained reads again.
  const Bytes small = frame(Bytes(95, 'x'), 0);
  constexpr std::size_t kFrames = 1500;  // about 150 KB: more than one read chunk
  Bytes burst;
  for (std::size_t i = 0; i < kFrames; ++i) burst.insert(burst.end(), small.begin(), small.end());
  f.feed->write_all(burst);
  std::size_t received = 0;
  CHECK(f.channel->read_available(buffer) == Buffered::frame);
  while (f.channel->buffered() == Buffered::frame) {
    f.channel->recv(out);
    ++received;
  }
  CHECK(received < kFrames);  // one read chunk's worth
  for (;;) {
    const Buffered next = f.channel->read_available(buffer, Refill::unless_drained);
    if (next == Buffered::nothing) break;
    REQUIRE(next == Buffered::frame);  // a frame the chunk's end split is read whole
    f.channel->recv(out);
    ++received;
  }
  CHECK(received == kFrames);
}
