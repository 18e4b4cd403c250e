// docs/FAULTS.md A (framing) and B (compression flag and zlib), against a real server on
// loopback: every bad frame costs only its own connection, with the reason recorded, while
// a canary keeps getting fast answers.
#include <doctest/doctest.h>

#include <random>

#include "fault/fault.hpp"
#include "fault/faultproxy.hpp"

using namespace netref;
using namespace netref::test;
using wire::ByteVec;

namespace {

/// A PING request echoing value: the smallest request that runs (no root needed).
ByteVec ping(std::uint32_t seq, Value value) { return wire::request(seq, Handler::ping, {wire::boxed(std::move(value))}); }

/// GETROOT over a raw peer; the root's id.
/// payload as a netref Channel compresses it (zlib stream), at level.
ByteVec zlib_of(const ByteVec& payload, int level = 6) {
  auto [a, b] = make_memory_pair();
  ChannelConfig cfg;
  cfg.compress = true;
  cfg.compression_threshold = 0;
  cfg.compression_level = level;
  Channel sender(std::move(a), cfg);
  sender.send(payload);
  std::uint8_t head[5];
  b->read_exact(head);
  REQUIRE(head[4] == 1);
  ByteVec body((std::size_t{head[0]} << 24) | (std::size_t{head[1]} << 16) | (std::size_t{head[2]} << 8) | head[3]);
  b->read_exact(body);
  std::uint8_t end[1];
  b->read_exact(end);
  return body;
}

/// What a netref Channel makes of a zlib payload (flag 1): its inflated bytes.
ByteVec inflated(const ByteVec& compressed) {
  auto [a, b] = make_memory_pair();
  a->write_all(wire::frame(compressed, 1));
  return Channel(std::move(b)).recv();
}

constexpr std::size_t MiB = 1u << 20;

/// Sets the process buffer budget's limit for one test (its peak starts afresh) and puts the
/// limit back afterwards.
class BudgetLimit {
 public:
  explicit BudgetLimit(std::size_t bytes) : saved_(BufferBudget::process().limit()) {
    BufferBudget::process().set_limit(bytes);
    BufferBudget::process().reset_peak();
  }
  ~BudgetLimit() { BufferBudget::process().set_limit(saved_); }
  BudgetLimit(const BudgetLimit&) = delete;
  BudgetLimit& operator=(const BudgetLimit&) = delete;

 private:
  std::size_t saved_;
};

}  // namespace

TEST_CASE("A1 A2: a frame cut short by FIN, in its header or its payload, closes that connection and runs nothing") {
  Served<> s;
  // append(7) would leave a trace in the Lab's log if any part of it ran.
  // cut > 0: send that many bytes of the frame; cut <= 0: all but -cut + 1 of them (0: every
  // byte but the terminator, so the payload is whole and only the '\n' is missing).
  const auto probe = [&](std::ptrdiff_t cut) {
    CAPTURE(cut);
    auto peer = RawPeer::tcp(s.port());
    const IdPack root = root_of(peer);
    const ByteVec whole = wire::frame(
        wire::request(1, Handler::callattr, {wire::local_ref(root), wire::boxed("append"), wire::boxed(tuple_of(7))}));
    const std::ptrdiff_t sent = cut > 0 ? cut : static_cast<std::ptrdiff_t>(whole.size()) - 1 + cut;
    REQUIRE(sent < static_cast<std::ptrdiff_t>(whole.size()));
    peer.send(ByteVec(whole.begin(), whole.begin() + sent));
    peer.shutdown_write();
    CHECK(peer.closed_within(std::chrono::seconds(1)));
  };
  const std::vector<std::ptrdiff_t> cuts = {1, 2, 3, 4, 5, 6, 10, -5, 0};
  for (auto cut : cuts) probe(cut);
  CHECK(s.watch.wait_closed(cuts.size()));
  {
    std::lock_guard lk(s.lab.mutex);
    CHECK(s.lab.log.empty());
  }
  CHECK(eventually([&] { return s.server->stats().open_connections == 1; }));  // the canary
  CHECK(s.idle_after_canary());
}

TEST_CASE("A4: a frame of length 0 closes the connection as a protocol error") {
  Served<> s;
  auto peer = RawPeer::tcp(s.port());
  peer.send(wire::frame({}));
  CHECK(peer.closed_within(std::chrono::seconds(1)));
  CHECK(s.watch.wait_reason("empty message"));
  s.check_canary();
}

TEST_CASE("A5: a frame of exactly max_frame_bytes is served, one byte more closes before the payload arrives") {
  constexpr std::size_t limit = 64 * 1024;
  Served<> s([](ServerConfig& c) {
    c.channel.max_frame_bytes = limit;
    c.channel.compress = false;
  });
  // A PING whose payload is exactly the limit.
  std::size_t text = limit - 32;
  ByteVec payload = ping(0, std::string(text, 'x'));
  while (payload.size() != limit) {
    text += limit - payload.size();
    payload = ping(0, std::string(text, 'x'));
  }
  auto peer = RawPeer::tcp(s.port());
  peer.send_frame(payload);
  auto m = peer.read_message();
  CHECK(m.type == MsgType::reply);
  CHECK(m.boxed_item() == Value(std::string(text, 'x')));

  auto over = RawPeer::tcp(s.port());
  over.send(wire::header(static_cast<std::uint32_t>(limit + 1)));  // and none of the payload
  CHECK(over.closed_within(std::chrono::seconds(1)));
  CHECK(s.watch.wait_reason("exceeds"));
  s.check_canary();
}

TEST_CASE("A6: lengths 0xFFFFFFFF and 0x80000000 close at once without allocating them") {
  Served<> s;
  const long hwm_before = status_kib("VmHWM");
  for (std::uint32_t length : {0xFFFFFFFFu, 0x80000000u}) {
    CAPTURE(length);
    auto peer = RawPeer::tcp(s.port());
    const auto start = Clock::now();
    peer.send(wire::header(length));
    CHECK(peer.closed_within(std::chrono::seconds(1)));
    CHECK(Clock::now() - start < std::chrono::seconds(1));
  }
  CHECK(s.watch.wait_closed(2));
  for (const auto& r : s.watch.reasons()) CHECK(r.find("exceeds the limit") != std::string::npos);
  CHECK(status_kib("VmHWM") - hwm_before < 64 * 1024);  // far below the 2 GiB asked for
  s.check_canary();
}

TEST_CASE("A7: a TLS ClientHello or an HTTP request on the plaintext port is closed as not an RPC frame") {
  Served<> s;
  const ByteVec hello = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03};
  const std::string get = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
  for (const ByteVec& bytes : {hello, ByteVec(get.begin(), get.end())}) {
    auto peer = RawPeer::tcp(s.port());
    peer.send(bytes);
    CHECK(peer.closed_within(std::chrono::seconds(1)));
  }
  CHECK(s.watch.wait_reason("a TLS handshake?"));
  CHECK(s.watch.wait_reason("HTTP?"));
  s.check_canary();
}

TEST_CASE("A8: frames delivered one byte per send, both ways, through the fault proxy still work") {
  Served<> s;
  FaultPlan split;
  split.split = true;
  split.split_gap = std::chrono::microseconds(100);
  FaultProxy proxy(s.port(), split, split);
  auto client = connect("127.0.0.1", proxy.port());
  auto root = client->root();
  CHECK(root->attr("add")->call(20, 22).as<std::int64_t>() == 42);
  auto counter = root->attr("make_counter")->call(10);
  CHECK(counter->attr("add")->call(5).as<std::int64_t>() == 15);
  const std::string text(5000, 'q');  // compressed frames too
  CHECK(root->attr("echo")->call(text).as<std::string>() == text);
  CHECK(proxy.accepted() == 1);
  CHECK(proxy.forwarded(Direction::upstream) > 100);
  CHECK(proxy.forwarded(Direction::downstream) > 100);
  s.check_canary();
}

TEST_CASE("A8: a corrupted flag byte or length through the fault proxy closes the connection and fails the call") {
  Served<> s;
  FaultProxy proxy(s.port());
  for (std::uint64_t offset : {0u, 4u}) {  // the next frame's length MSB, then its flag
    CAPTURE(offset);
    auto client = connect("127.0.0.1", proxy.port());
    auto root = client->root();
    CHECK(root->attr("add")->call(1, 2).as<std::int64_t>() == 3);
    proxy.flip_in(Direction::upstream, offset);
    CHECK_THROWS_AS(root->attr("add")->call(1, 2), ConnectionClosed);
  }
  CHECK(s.watch.wait_reason("exceeds"));
  CHECK(s.watch.wait_reason("flag"));
  s.check_canary();
}

namespace {
/// Pings are the smallest request; rows that flood them test framing and serving, not the
/// ping-rate cap (G9, resources_fault_test.cpp), which is off for them.
void without_ping_cap(ServerConfig& c) { c.connection.max_pings_per_second = 0; }
}  // namespace

TEST_CASE("A9: 1000 requests pipelined in one write are all answered, each under its own seq") {
  Served<> s(without_ping_cap);
  auto peer = RawPeer::tcp(s.port());
  ByteVec batch;
  for (std::uint32_t i = 0; i < 1000; ++i) {
    auto f = wire::frame(ping(i, Value(static_cast<std::int64_t>(i) * 3)));
    batch.insert(batch.end(), f.begin(), f.end());
  }
  peer.send(batch);
  std::vector<bool> seen(1000, false);
  for (int i = 0; i < 1000; ++i) {
    auto m = peer.read_message();
    REQUIRE(m.type == MsgType::reply);
    REQUIRE(m.seq < 1000);
    CHECK_FALSE(seen[m.seq]);
    seen[m.seq] = true;
    CHECK(m.boxed_item() == Value(static_cast<std::int64_t>(m.seq) * 3));
  }
  s.check_canary();
}

TEST_CASE("A10: a flood of minimal frames is served at its own pace while the canary stays fast") {
  Served<> s(without_ping_cap);
  auto peer = RawPeer::tcp(s.port());
  const int rounds = scaled(20);
  std::uint32_t seq = 0;
  for (int r = 0; r < rounds; ++r) {
    ByteVec batch;
    for (int i = 0; i < 1000; ++i) {
      auto f = wire::frame(ping(seq++, Value(1)));
      batch.insert(batch.end(), f.begin(), f.end());
    }
    peer.send(batch);
    for (int i = 0; i < 1000; ++i) REQUIRE(peer.read_message().type == MsgType::reply);
  }
  CHECK(seq == static_cast<std::uint32_t>(rounds * 1000));
  s.check_canary();
}

TEST_CASE("B1: every flag byte from 2 to 255 closes the connection, naming the flag") {
  Served<> s;
  const ByteVec payload = ping(0, Value(1));
  for (int flag = 2; flag <= 255; ++flag) {
    CAPTURE(flag);
    auto peer = RawPeer::tcp(s.port());
    peer.send_frame(payload, static_cast<std::uint8_t>(flag));
    REQUIRE(peer.closed_within(std::chrono::seconds(1)));
  }
  CHECK(s.watch.wait_closed(254));
  for (const auto& r : s.watch.reasons()) CHECK(r.find("flag") != std::string::npos);
  s.check_canary();
}

TEST_CASE("B2 B7: flag 1 on data that is not zlib, and flag 0 on zlib data, close the connection") {
  Served<> s;
  std::mt19937 rng(12345);
  for (int i = 0; i < 8; ++i) {
    ByteVec junk(static_cast<std::size_t>(1 + i * 37));
    for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
    auto peer = RawPeer::tcp(s.port());
    peer.send_frame(junk, 1);
    CHECK(peer.closed_within(std::chrono::seconds(1)));
  }
  auto plain = RawPeer::tcp(s.port());
  plain.send_frame(zlib_of(ping(0, Value(1))), 0);
  CHECK(plain.closed_within(std::chrono::seconds(1)));
  CHECK(s.watch.wait_closed(9));
  s.check_canary();
}

TEST_CASE("B3: a zlib bomb stops at max_inflated_bytes and closes the connection fast") {
  Served<> s([](ServerConfig& c) { c.channel.max_inflated_bytes = 64 * 1024; });
  const ByteVec bomb = zlib_of(ByteVec(4u << 20, 0), 9);  // 4 MiB of zeros in a few KiB
  REQUIRE(bomb.size() < 16 * 1024);
  auto peer = RawPeer::tcp(s.port());
  const auto start = Clock::now();
  peer.send_frame(bomb, 1);
  CHECK(peer.closed_within(std::chrono::seconds(1)));
  CHECK(Clock::now() - start < std::chrono::seconds(1));
  CHECK(s.watch.wait_reason("max_inflated_bytes"));
  s.check_canary();
}

TEST_CASE("B5: trailing bytes, a truncated stream, a dictionary, a gzip header and two streams are each rejected") {
  Served<> s;
  const ByteVec good = zlib_of(ping(0, Value(1)));
  ByteVec trailing = good;
  trailing.insert(trailing.end(), {'j', 'u', 'n', 'k'});
  const ByteVec truncated(good.begin(), good.end() - 4);
  ByteVec dictionary = {0x78, 0x20, 0x01, 0x02, 0x03, 0x04};  // FDICT set, then a dictionary id
  dictionary.insert(dictionary.end(), good.begin() + 2, good.end());
  ByteVec gzip = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03};
  gzip.insert(gzip.end(), good.begin() + 2, good.end());
  ByteVec twice = good;
  twice.insert(twice.end(), good.begin(), good.end());
  struct Case {
    const char* name;
    ByteVec payload;
    const char* reason;
  };
  const Case cases[] = {{"trailing", trailing, "trailing bytes"}, {"truncated", truncated, "compressed frame"},
                        {"dictionary", dictionary, "dictionary"},  {"gzip", gzip, "compressed frame"},
                        {"two streams", twice, "trailing bytes"}};
  for (const auto& c : cases) {
    CAPTURE(c.name);
    auto peer = RawPeer::tcp(s.port());
    peer.send_frame(c.payload, 1);
    CHECK(peer.closed_within(std::chrono::seconds(1)));
    CHECK(s.watch.wait_reason(c.reason));
  }
  // The untouched stream is served: the cases above failed for what was done to them.
  auto peer = RawPeer::tcp(s.port());
  peer.send_frame(good, 1);
  CHECK(peer.read_message().boxed_item() == Value(1));
  s.check_canary();
}

TEST_CASE("B6: flag 1 with an empty inflated payload is an empty message, and a tiny one is served") {
  Served<> s;
  auto empty = RawPeer::tcp(s.port());
  empty.send_frame({0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01}, 1);  // zlib.compress(b"")
  CHECK(empty.closed_within(std::chrono::seconds(1)));
  CHECK(s.watch.wait_reason("empty message"));
  auto tiny = RawPeer::tcp(s.port());
  tiny.send_frame(zlib_of(ping(4, Value("x"))), 1);
  auto m = tiny.read_message();
  CHECK(m.seq == 4);
  CHECK(m.boxed_item() == Value("x"));
  s.check_canary();
}

TEST_CASE_TEMPLATE("B4: peers holding large frames in progress fill the process buffer budget, and the next are closed under \"budget\"",
                   Server, ThreadPoolServer, ThreadedServer) {
  BudgetLimit limit(8 * MiB);
  BufferBudget& budget = BufferBudget::process();
  Served<Server> s;
  const std::uint16_t port = s.port();
  const auto refusals_before = budget.refusals();

  // Each peer announces a 16 MiB frame and sends 1 MiB of it, then waits: the server holds a
  // buffer of 1 to 2 MiB for it (it grows with what arrived), of which all but the 128 KiB
  // allowance is charged. Eight MiB hold at most nine of them, so of twelve at least three
  // are refused. Each peer waits for the last one's bytes to be charged (or refused) first;
  // a buffer may still double later, and be refused then.
  ByteVec partial = wire::header(16 * MiB);
  partial.resize(partial.size() + 1 * MiB, 'p');
  std::vector<RawPeer> peers;
  for (int i = 0; i < 12; ++i) {
    CAPTURE(i);
    const auto in_use = budget.in_use();
    const auto refusals = budget.refusals();
    peers.push_back(RawPeer::tcp(port));
    try {
      peers.back().send(partial);
    } catch (const ConnectionClosed&) {
      // refused while sending: the server closed with our bytes unread
    }
    CHECK(eventually([&] { return budget.in_use() >= in_use + 1 * MiB - (128u << 10) || budget.refusals() > refusals; }));
    CHECK(budget.in_use() <= budget.limit());
  }
  const auto refused = [&] { return budget.refusals() - refusals_before; };
  // Every refusal closed its connection, counted under "budget", and nothing else closed.
  const auto all_closes_were_refusals = [&] {
    return s.server->stats().closed[CloseReason::budget] == refused() && s.watch.closed_count() == refused();
  };
  CHECK(eventually([&] { return refused() >= 3; }));
  CHECK(eventually(all_closes_were_refusals));
  CHECK(budget.peak() <= 8 * MiB);
  CHECK(budget.in_use() > 0);  // the peers let in still hold their frames
  s.check_canary();

  // What is left is less than the last refused peer asked for (under 2 MiB): a compressed
  // PING that inflates to 3 MiB cannot be held, and its connection closes too.
  const ByteVec bomb = zlib_of(ping(7, Value(std::string(3 * MiB, 'z'))));
  REQUIRE(bomb.size() < 64 * 1024);
  auto zlib_peer = RawPeer::tcp(port);
  zlib_peer.send_frame(bomb, 1);
  CHECK(zlib_peer.closed_within(std::chrono::seconds(2)));
  CHECK(eventually(all_closes_were_refusals));
  for (const auto& r : s.watch.reasons()) CHECK(r.find("buffer budget") != std::string::npos);
  CHECK(budget.peak() <= 8 * MiB);

  // Once the peers go, so do their charges, and the same frame is served.
  peers.clear();
  CHECK(eventually([&] { return budget.in_use() == 0; }));
  auto later = RawPeer::tcp(port);
  later.send_frame(bomb, 1);
  std::uint8_t flag = 0;
  auto reply = later.read_frame(std::chrono::seconds(5), &flag);
  REQUIRE(reply.has_value());
  CHECK(flag == 1);  // a 3 MiB echo comes back compressed
  const auto m = wire::decode(inflated(*reply));
  CHECK(m.seq == 7);
  CHECK(m.boxed_item() == Value(std::string(3 * MiB, 'z')));
  CHECK(eventually([&] { return budget.in_use() == 0; }));
  CHECK(budget.peak() <= 8 * MiB);
  s.check_canary();
}

TEST_CASE_TEMPLATE("B4: many peers at once, each with a frame that inflates to just under the cap: the budget holds",
                   Server, ThreadPoolServer, ThreadedServer) {
  // docs/FAULTS.md's fifty frames just under a 16 MiB cap, shrunk: a 2 MiB cap, and room for
  // two such frames at once. Each asks for the size of a string (a small answer, so that the
  // work the server does per frame is mostly receiving it).
  BudgetLimit limit(4 * MiB + (256u << 10));
  BufferBudget& budget = BufferBudget::process();
  Served<Server> s([](ServerConfig& c) { c.channel.max_inflated_bytes = 2 * MiB; });
  const std::uint16_t port = s.port();
  const std::string text(2 * MiB - 256, 'u');
  const int n = scaled(50, 5);
  std::vector<RawPeer> peers;
  std::vector<ByteVec> frames;
  for (int i = 0; i < n; ++i) {
    peers.push_back(RawPeer::tcp(port));
    const IdPack root = root_of(peers.back());
    frames.push_back(zlib_of(wire::request(1, Handler::callattr, {wire::local_ref(root), wire::boxed("size_of"),
                                                                  wire::boxed(tuple_of(text))})));
    REQUIRE(frames.back().size() < 64 * 1024);
  }
  for (int i = 0; i < n; ++i) peers[i].send_frame(frames[i], 1);  // all at once
  int answered = 0, closed = 0;
  for (auto& p : peers) {
    try {
      const auto m = p.read_reply_to(1, nullptr, std::chrono::seconds(20));
      CHECK(m.boxed_item() == Value(static_cast<std::int64_t>(text.size())));
      ++answered;
    } catch (const ConnectionClosed&) {
      ++closed;
    }
  }
  CHECK(answered + closed == n);
  CHECK(answered > 0);
  CHECK(budget.peak() <= budget.limit());
  // Every connection that closed was refused by the budget, nothing else.
  CHECK(eventually([&] { return s.server->stats().closed[CloseReason::budget] == static_cast<std::uint64_t>(closed); }));
  for (const auto& r : s.watch.reasons()) CHECK(r.find("buffer budget") != std::string::npos);
  peers.clear();
  CHECK(eventually([&] { return budget.in_use() == 0; }));
  // Fifty 2 MiB inflations are CPU work the server must do: with both cores busy on it, a
  // canary call may wait for one (seen: 490 ms on a loaded machine). What it must not do is
  // fail or wait for all of them.
  s.check_canary(4 * kCanaryBound);
}
