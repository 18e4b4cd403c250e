// A reader in the middle of a frame acknowledges what came at once (Stream::acknowledge_now,
// TCP_QUICKACK on TCP), so a sender that keeps Nagle's algorithm on (rpyc's client) sends the
// rest of the frame now instead of after the peer's delayed-ACK timer; a frame that arrives
// whole costs no such call.
#include <doctest/doctest.h>

#include <memory>

#include "netref/channel/channel.hpp"
#include "piece_stream.hpp"
#include "raw_frames.hpp"

using namespace netref;
using namespace netref::test;

namespace {

Bytes plain_frame(std::size_t body_size) { return frame(Bytes(body_size, 'x'), 0); }

struct Fed {
  PieceStream* stream;
  std::unique_ptr<Channel> channel;
  Fed(Bytes wire, std::vector<std::size_t> pieces) {
    auto owned = std::make_unique<PieceStream>(std::move(wire), std::move(pieces), PieceStream::End::stall);
    stream = owned.get();
    ChannelConfig config;
    config.compress = false;
    channel = std::make_unique<Channel>(std::move(owned), config);
  }
};

// Every acknowledgement came while the frame was incomplete.
void check_all_mid_frame(const std::vector<std::size_t>& acknowledged_at, std::size_t frame_size) {
  for (auto at : acknowledged_at) {
    CHECK(at > 0);
    CHECK(at < frame_size);
  }
}

}  // namespace

TEST_CASE("a frame that arrives whole within one read is read without acknowledge_now") {
  // (A frame larger than the 64 KiB read chunk is incomplete after its first read whatever
  // has arrived, and is acknowledged on the way like any other incomplete frame.)
  for (std::size_t size : {10u, 3000u, 60000u}) {
    CAPTURE(size);
    const Bytes wire = plain_frame(size);
    Fed fed(wire, {wire.size()});
    Bytes out;
    REQUIRE(fed.channel->recv_until(out, std::chrono::steady_clock::now() + std::chrono::seconds(5)));
    CHECK(out.size() == size);
    CHECK(fed.stream->acknowledged_at.empty());
  }
}

TEST_CASE("a frame that arrives in pieces is acknowledged while it is incomplete, small or large") {
  for (std::size_t size : {100u, 300000u}) {
    CAPTURE(size);
    const Bytes wire = plain_frame(size);
    const std::size_t piece = size < 1000 ? 7 : 16384;
    Fed fed(wire, {piece});
    Bytes out;
    REQUIRE(fed.channel->recv_until(out, std::chrono::steady_clock::now() + std::chrono::seconds(5)));
    CHECK(out == Bytes(size, 'x'));
    // One acknowledgement per wait for more, at least: each piece but the last was followed by one.
    CHECK(fed.stream->acknowledged_at.size() >= wire.size() / piece);
    check_all_mid_frame(fed.stream->acknowledged_at, wire.size());
  }
}

TEST_CASE("a reactor's read_available acknowledges a partial frame, not a whole one") {
  const Bytes wire = plain_frame(1000);
  Fed partial(Bytes(wire.begin(), wire.begin() + 600), {600});
  CHECK(partial.channel->read_available() == Buffered::partial);
  CHECK(partial.stream->acknowledged_at == std::vector<std::size_t>{600});

  Fed whole(wire, {wire.size()});
  CHECK(whole.channel->read_available() == Buffered::frame);
  CHECK(whole.stream->acknowledged_at.empty());
  Bytes out;
  REQUIRE(whole.channel->recv_until(out, std::chrono::steady_clock::now()));
  CHECK(out.size() == 1000);
}
