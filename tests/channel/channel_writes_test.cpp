// The outgoing queue's writes: frames queued together leave in one write, a frame sent
// alone leaves in one write of its own, and Channel::writes() counts exactly those.
#include <doctest/doctest.h>

#include "netref/channel/channel.hpp"
#include "netref/stream/memory_stream.hpp"

using namespace netref;

namespace {

std::vector<std::uint8_t> payload_of(std::uint8_t tag, std::size_t size) { return std::vector<std::uint8_t>(size, tag); }

}  // namespace

TEST_CASE("frames queued together leave in one write, and the peer receives each of them whole and in order") {
  auto [a, b] = make_memory_pair();
  ChannelConfig config;
  config.compress = false;
  Channel sender(std::move(a), config);
  Channel receiver(std::move(b), config);
  REQUIRE(sender.writes() == 0);

  constexpr int kFrames = 8;
  for (int i = 0; i < kFrames; ++i) sender.enqueue(payload_of(static_cast<std::uint8_t>(i), 10 + i));
  CHECK(sender.writes() == 0);  // queued, not written
  CHECK(sender.queued_bytes() > 0);
  CHECK(sender.flush() == Flush::done);
  CHECK(sender.writes() == 1);
  CHECK(sender.queued_bytes() == 0);
  for (int i = 0; i < kFrames; ++i) CHECK(receiver.recv() == payload_of(static_cast<std::uint8_t>(i), 10 + i));
}

TEST_CASE("frames sent one at a time leave in one write each") {
  auto [a, b] = make_memory_pair();
  Channel sender(std::move(a));
  Channel receiver(std::move(b));
  for (int i = 1; i <= 5; ++i) {
    sender.send(payload_of(static_cast<std::uint8_t>(i), 100));
    CHECK(sender.writes() == static_cast<std::uint64_t>(i));
    CHECK(receiver.recv() == payload_of(static_cast<std::uint8_t>(i), 100));
  }
  // A frame sent while others are queued carries them: still one write.
  sender.enqueue(payload_of(6, 10));
  sender.enqueue(payload_of(7, 10));
  CHECK(sender.send_nowait(payload_of(8, 10)) == Flush::done);
  CHECK(sender.writes() == 6);
  for (std::uint8_t i = 6; i <= 8; ++i) CHECK(receiver.recv() == payload_of(i, 10));
  // A flush with nothing queued writes nothing.
  CHECK(sender.flush() == Flush::done);
  CHECK(sender.writes() == 6);
}
