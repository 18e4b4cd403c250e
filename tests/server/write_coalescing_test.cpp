// Frames that are ready together leave in one write, on both sides: a server's replies to
// requests that arrived in one burst, and a client's async requests issued before it waits.
// A request answered before the next one arrives still gets a write of its own (nothing is
// held back waiting for company). Counted with Channel::writes() against the frames sent.
#include <doctest/doctest.h>

#include "fault/fault.hpp"

using namespace netref;
using namespace netref::test;

namespace {

/// A raw peer pinging a server: plain frames, no ping-rate cap (each ping stands for any
/// small request).
void for_raw_peers(ServerConfig& c) {
  c.connection.max_pings_per_second = 0;
  c.channel.compress = false;
}

wire::ByteVec small_ping(std::uint32_t seq) {
  return wire::request(seq, Handler::ping, {wire::boxed(Value("ping " + std::to_string(seq)))});
}

/// Reads the reply to seq and checks it echoes the ping.
void expect_pong(RawPeer& peer, std::uint32_t seq) {
  auto m = peer.read_reply_to(seq, nullptr, std::chrono::seconds(10));
  REQUIRE(m.type == MsgType::reply);
  CHECK(m.boxed_item() == Value("ping " + std::to_string(seq)));
}

}  // namespace

TEST_CASE_TEMPLATE("a server writes the replies to a pipelined burst together, and a lone request's reply at once",
                   Server, ThreadPoolServer, ThreadedServer) {
  Served<Server> s(for_raw_peers, /*with_canary=*/false);
  RawPeer peer = RawPeer::tcp(s.port());

  // Strictly alternating: each reply leaves in a write of its own, as soon as it is ready.
  constexpr std::uint32_t kAlternating = 10;
  for (std::uint32_t seq = 1; seq <= kAlternating; ++seq) {
    peer.send_frame(small_ping(seq));
    expect_pong(peer, seq);
  }
  REQUIRE(s.watch.wait_opened(1));
  auto conn = s.watch.connection(0);
  REQUIRE(conn);
  // The reply is on the wire before the server counts its frame; writes are counted first.
  REQUIRE(eventually([&] { return conn->stats().frames_out == kAlternating; }));
  CHECK(conn->stats().writes == kAlternating);

  // A burst of requests in one write: their replies leave in far fewer writes than frames.
  constexpr std::uint32_t kBurst = 64;
  wire::ByteVec burst;
  for (std::uint32_t seq = kAlternating + 1; seq <= kAlternating + kBurst; ++seq) {
    const auto frame = wire::frame(small_ping(seq));
    burst.insert(burst.end(), frame.begin(), frame.end());
  }
  peer.send(burst);
  for (std::uint32_t seq = kAlternating + 1; seq <= kAlternating + kBurst; ++seq) {
    auto m = peer.read_message(std::chrono::seconds(10));
    CHECK(m.type == MsgType::reply);
    CHECK(m.seq == seq);  // in order, none lost or duplicated
  }
  REQUIRE(eventually([&] { return conn->stats().frames_out == kAlternating + kBurst; }));
  const auto burst_writes = conn->stats().writes - kAlternating;
  CAPTURE(burst_writes);
  CHECK(burst_writes >= 1);
  CHECK(burst_writes < kBurst);
  CHECK(burst_writes <= kBurst / 4);  // the burst arrives in a read or two, not one per frame

  // And alternating again afterwards: still one write per reply.
  const auto before = conn->stats().writes;
  for (std::uint32_t seq = 100; seq < 105; ++seq) {
    peer.send_frame(small_ping(seq));
    expect_pong(peer, seq);
  }
  REQUIRE(eventually([&] { return conn->stats().frames_out == kAlternating + kBurst + 5; }));
  CHECK(conn->stats().writes - before == 5);
}

TEST_CASE("a client's async requests issued together leave in fewer writes than requests") {
  Served<> s({}, /*with_canary=*/false);
  constexpr int kCalls = 16;

  SUBCASE("held for the next wait: the first leaves alone, the others in one write") {
    ClientConfig cfg;
    // Longer than the test: the deferred requests leave when the client first waits, never
    // on the timer in the middle of the loop, so the count is exact.
    cfg.connection.request_batch_delay = std::chrono::seconds(5);
    auto client = plain_client(s.port(), cfg);
    auto root = client->root();
    const auto writes_before = client->stats().writes;
    const auto frames_before = client->stats().frames_out;
    std::vector<AsyncResult> calls;
    for (int i = 0; i < kCalls; ++i) {
      calls.push_back(client->async_request(Handler::callattr, {Value(root), Value("add"), Value(tuple_of(i, 1))}));
    }
    CHECK(client->stats().writes - writes_before == 1);  // the first; the rest wait
    for (int i = 0; i < kCalls; ++i) {
      REQUIRE(calls[i].wait(std::chrono::seconds(10)));
      CHECK(calls[i].value() == Value(std::int64_t{i + 1}));
    }
    CHECK(client->stats().frames_out - frames_before == kCalls);
    CHECK(client->stats().writes - writes_before == 2);
  }
  SUBCASE("with the default batch delay: fewer writes than requests") {
    auto client = plain_client(s.port());
    auto root = client->root();
    const auto writes_before = client->stats().writes;
    const auto frames_before = client->stats().frames_out;
    std::vector<AsyncResult> calls;
    for (int i = 0; i < kCalls; ++i) {
      calls.push_back(client->async_request(Handler::callattr, {Value(root), Value("add"), Value(tuple_of(i, 1))}));
    }
    for (int i = 0; i < kCalls; ++i) {
      REQUIRE(calls[i].wait(std::chrono::seconds(10)));
      CHECK(calls[i].value() == Value(std::int64_t{i + 1}));
    }
    CHECK(client->stats().frames_out - frames_before == kCalls);
    const auto writes = client->stats().writes - writes_before;
    CAPTURE(writes);
    CHECK(writes < static_cast<std::uint64_t>(kCalls));
  }
  SUBCASE("sync calls, one after another: one write each") {
    auto client = plain_client(s.port());
    auto root = client->root();
    const auto writes_before = client->stats().writes;
    for (int i = 0; i < 5; ++i) {
      CHECK(client->sync_request(Handler::callattr, {Value(root), Value("add"), Value(tuple_of(i, 1))}) ==
            Value(std::int64_t{i + 1}));
    }
    CHECK(client->stats().writes - writes_before == 5);
  }
}
