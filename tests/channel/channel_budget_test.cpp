// The buffer budget (docs/FAULTS.md B4): the counter and its limit, the lease a channel holds
// for its frame in progress, and that a channel gives its charge back on every path: handed
// over, a protocol error, EOF, close and destruction in the middle of a frame, a refusal.
#include <doctest/doctest.h>

#include <future>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "netref/channel/buffer_budget.hpp"
#include "netref/channel/channel.hpp"
#include "netref/stream/memory_stream.hpp"
#include "piece_stream.hpp"
#include "raw_frames.hpp"

using namespace netref;
using namespace netref::test;

namespace {

constexpr std::size_t MiB = 1u << 20;

// A channel charging a budget of its own, reading what the test writes to feed.
struct Budgeted {
  BufferBudget budget;
  StreamPtr feed;
  std::unique_ptr<Channel> channel;

  explicit Budgeted(std::size_t limit, ChannelConfig config = {}) : budget(limit) {
    auto [a, b] = make_memory_pair();
    feed = std::move(a);
    config.buffer_budget = &budget;
    channel = std::make_unique<Channel>(std::move(b), config);
  }
};

// Waits for cond (another thread changes it) for up to five seconds.
template <class F>
bool within_seconds(F cond) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= end) return cond();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace

TEST_CASE("a budget grants up to its limit, counts refusals and remembers its peak") {
  BufferBudget budget(1000);
  CHECK(budget.try_take(600));
  CHECK(budget.try_take(400));
  CHECK(budget.in_use() == 1000);
  CHECK_FALSE(budget.try_take(1));
  CHECK(budget.refusals() == 1);
  CHECK(budget.in_use() == 1000);  // a refusal grants nothing
  budget.give_back(700);
  CHECK(budget.in_use() == 300);
  CHECK(budget.peak() == 1000);
  budget.reset_peak();
  CHECK(budget.peak() == 300);
  CHECK_FALSE(budget.try_take(std::numeric_limits<std::size_t>::max()));  // no wrap-around
  CHECK(budget.refusals() == 2);
}

TEST_CASE("lowering a budget's limit keeps what was granted and refuses until use falls under it") {
  BufferBudget budget(1000);
  REQUIRE(budget.try_take(800));
  budget.set_limit(500);
  CHECK(budget.in_use() == 800);
  CHECK_FALSE(budget.try_take(1));
  budget.give_back(400);
  CHECK(budget.try_take(100));
  CHECK_FALSE(budget.try_take(1));
  CHECK(budget.limit() == 500);
}

TEST_CASE("the process budget defaults to 512 MiB") {
  CHECK(BufferBudget::default_limit == 512 * MiB);
  CHECK(BufferBudget::process().limit() == BufferBudget::default_limit);
}

TEST_CASE("threads taking and giving back at once never take a budget past its limit") {
  BufferBudget budget(10000);
  std::vector<std::future<int>> takers;
  for (int t = 0; t < 4; ++t) {
    takers.push_back(std::async(std::launch::async, [&budget, t] {
      int granted = 0;
      for (int i = 0; i < 20000; ++i) {
        const std::size_t bytes = 1000 + static_cast<std::size_t>((i * 7 + t * 13) % 3000);
        if (budget.try_take(bytes)) {
          ++granted;
          budget.give_back(bytes);
        }
      }
      return granted;
    }));
  }
  int granted = 0;
  for (auto& t : takers) granted += t.get();
  CHECK(granted > 0);
  CHECK(budget.in_use() == 0);
  CHECK(budget.peak() <= 10000);
}

TEST_CASE("a lease charges only what lies beyond its allowance, and gives it all back") {
  BufferBudget budget(1000);
  {
    BufferLease lease(budget, 100);
    lease.cover(100);
    CHECK(lease.charged() == 0);
    CHECK(budget.peak() == 0);  // within the allowance the budget is not touched
    lease.cover(600);
    CHECK(lease.charged() == 500);
    CHECK(budget.in_use() == 500);
    lease.cover(300);  // shrinking gives back
    CHECK(budget.in_use() == 200);
    lease.release();
    CHECK(budget.in_use() == 0);
    lease.cover(400);
    CHECK(budget.in_use() == 300);
  }  // destroyed holding 300
  CHECK(budget.in_use() == 0);
}

TEST_CASE("a lease the budget cannot grant throws BudgetExceeded naming the bytes and the limit, and keeps its charge") {
  BufferBudget budget(1000);
  REQUIRE(budget.try_take(700));
  BufferLease lease(budget, 100);
  lease.cover(300);
  REQUIRE(lease.charged() == 200);
  try {
    lease.cover(600);
    FAIL("cover did not throw");
  } catch (const BudgetExceeded& e) {
    CHECK(std::string(e.what()) ==
          "receive buffers of 600 bytes for one frame (300 more) would take the buffer budget past its limit of "
          "1000 bytes, 900 of them in use (BufferBudget)");
  }
  CHECK(lease.charged() == 200);
  CHECK(budget.in_use() == 900);
  CHECK(budget.refusals() == 1);
  budget.give_back(700);
}

TEST_CASE("small frames never touch the budget: plain ones that fit a read chunk, compressed ones that inflate within it") {
  Budgeted b(1);  // any charge at all would be refused
  for (const std::size_t size : {0u, 1u, 3000u, 40000u, 65000u}) {
    CAPTURE(size);
    const Bytes payload(size, 'p');
    b.feed->write_all(frame(payload, 0));
    CHECK(b.channel->recv() == payload);
    if (size > 0) {
      b.feed->write_all(frame(zlib_compress(payload), 1));
      CHECK(b.channel->recv() == payload);
    }
  }
  CHECK(b.budget.peak() == 0);
  CHECK(b.budget.refusals() == 0);
}

TEST_CASE("a large frame charges the budget while it arrives and gives it back when handed over") {
  for (const bool reactor : {false, true}) {
    for (const std::uint8_t flag : {std::uint8_t{0}, std::uint8_t{1}}) {
      CAPTURE(reactor);
      CAPTURE(int{flag});
      Budgeted b(64 * MiB);
      const Bytes payload(4 * MiB, 'L');
      b.feed->write_all(frame(flag == 0 ? payload : zlib_compress(payload), flag));
      if (reactor) {
        while (b.channel->read_available() != Buffered::frame) {
        }
      }
      CHECK(b.channel->recv() == payload);
      CHECK(b.budget.peak() >= 4 * MiB - (128u << 10));  // the 4 MiB payload, less the allowance
      CHECK(b.budget.peak() <= 16 * MiB);
      CHECK(b.budget.in_use() == 0);
    }
  }
}

TEST_CASE("a frame the budget cannot hold is refused with BudgetExceeded, and the charge is given back") {
  for (const bool reactor : {false, true}) {
    CAPTURE(reactor);
    Budgeted b(1 * MiB);
    b.feed->write_all(frame(Bytes(4 * MiB, 'x'), 0));
    try {
      if (reactor) {
        while (b.channel->read_available() != Buffered::frame) {
        }
      }
      b.channel->recv();
      FAIL("the frame was not refused");
    } catch (const BudgetExceeded& e) {
      CHECK(std::string(e.what()).find("past its limit of 1048576 bytes") != std::string::npos);
    }
    CHECK(b.budget.refusals() == 1);
    CHECK(b.budget.peak() <= 1 * MiB);
    CHECK(b.budget.in_use() == 0);
  }
}

TEST_CASE("a compressed frame whose output the budget cannot hold is refused while inflating") {
  Budgeted b(2 * MiB);
  const Bytes payload(8 * MiB, 0);  // a few KiB compressed: only the output needs the budget
  b.feed->write_all(frame(zlib_compress(payload, 9), 1));
  CHECK_THROWS_AS(b.channel->recv(), BudgetExceeded);
  CHECK(b.budget.refusals() == 1);
  CHECK(b.budget.in_use() == 0);
}

TEST_CASE("a frame that fails in the middle gives its charge back: EOF, timeout, inflate failure, bad terminator") {
  ChannelConfig config;
  config.max_inflated_bytes = 4 * MiB;
  config.frame_timeout = std::chrono::milliseconds(50);
  SUBCASE("EOF in the payload") {
    for (const bool reactor : {false, true}) {
      CAPTURE(reactor);
      Budgeted b(64 * MiB, config);
      Bytes wire = header(8 * MiB, 0);
      wire.resize(wire.size() + 1 * MiB, 'x');
      b.feed->write_all(wire);
      b.feed->close();
      if (reactor) {
        CHECK_THROWS_AS(
            [&] {
              for (;;) b.channel->read_available();
            }(),
            ConnectionClosed);
      } else {
        CHECK_THROWS_AS(b.channel->recv(), ConnectionClosed);
      }
      CHECK(b.budget.peak() >= 1 * MiB - (128u << 10));
      CHECK(b.budget.in_use() == 0);
    }
  }
  SUBCASE("the frame timeout in the payload") {
    Budgeted b(64 * MiB, config);
    Bytes wire = header(8 * MiB, 1);
    wire.resize(wire.size() + 1 * MiB, 'x');
    b.feed->write_all(wire);
    CHECK_THROWS_AS(b.channel->recv(), Timeout);
    CHECK(b.budget.peak() > 0);
    CHECK(b.budget.in_use() == 0);
  }
  SUBCASE("a zlib bomb past max_inflated_bytes, in a frame that fits a read chunk and in one that does not") {
    // Bytes after the point where the output crosses the limit are never looked at: padding
    // makes the same bomb a frame larger than a read chunk.
    for (const std::size_t padding : {std::size_t{0}, std::size_t{200000}}) {
      CAPTURE(padding);
      Budgeted b(64 * MiB, config);
      Bytes bomb = zlib_compress(Bytes(16 * MiB, 0), 9);
      REQUIRE(bomb.size() < 32 * 1024);
      bomb.resize(bomb.size() + padding, 0);
      b.feed->write_all(frame(bomb, 1));
      CHECK_THROWS_AS(b.channel->recv(), ProtocolError);
      CHECK(b.budget.peak() >= 4 * MiB - (128u << 10));
      CHECK(b.budget.in_use() == 0);
    }
  }
  SUBCASE("a corrupt zlib stream in a large frame") {
    Budgeted b(64 * MiB, config);
    Bytes body = zlib_compress(Bytes(2 * MiB, 'c'));
    body.resize(body.size() + 300000, 0x55);  // trailing bytes, and a frame past the read chunk
    b.feed->write_all(frame(body, 1));
    CHECK_THROWS_AS(b.channel->recv(), ProtocolError);
    CHECK(b.budget.peak() > 0);
    CHECK(b.budget.in_use() == 0);
  }
  SUBCASE("a large frame without its terminator") {
    for (const bool reactor : {false, true}) {
      CAPTURE(reactor);
      Budgeted b(64 * MiB, config);
      Bytes wire = frame(Bytes(2 * MiB, 't'), 0);
      wire.back() = 'X';
      b.feed->write_all(wire);
      if (reactor) REQUIRE(b.channel->read_available() == Buffered::frame);
      CHECK_THROWS_AS(b.channel->recv(), ProtocolError);
      CHECK(b.budget.peak() > 0);
      CHECK(b.budget.in_use() == 0);
    }
  }
}

TEST_CASE("closing a channel whose receiver waits in the middle of a large frame gives the charge back") {
  Budgeted b(64 * MiB);
  Bytes wire = header(8 * MiB, 0);
  wire.resize(wire.size() + 1 * MiB, 'x');
  b.feed->write_all(wire);
  auto receiver = std::async(std::launch::async, [&] { return b.channel->recv(); });
  REQUIRE(within_seconds([&] { return b.budget.in_use() >= 1 * MiB - (128u << 10); }));  // waiting for the rest
  b.channel->close();
  CHECK_THROWS_AS(receiver.get(), ConnectionClosed);
  CHECK(b.budget.in_use() == 0);
}

TEST_CASE("destroying a channel that holds part of a large frame gives the charge back") {
  BufferBudget budget(64 * MiB);
  {
    Bytes wire = header(8 * MiB, 0);
    wire.resize(wire.size() + 1 * MiB, 'x');
    ChannelConfig config;
    config.buffer_budget = &budget;
    Channel channel(std::make_unique<PieceStream>(wire, std::vector<std::size_t>{100000}, PieceStream::End::stall),
                    config);
    CHECK(channel.read_available() == Buffered::partial);  // a reactor's turn ends here
    CHECK(budget.in_use() >= 1 * MiB - (128u << 10));
  }
  CHECK(budget.in_use() == 0);
}

TEST_CASE("a large frame's buffer is let go once it is handed over, and the frames behind it still arrive") {
  Budgeted b(64 * MiB);
  const Bytes large(3 * MiB, 'L');
  Bytes wire = frame(large, 0);
  for (int i = 0; i < 50; ++i) {
    const Bytes small = frame(Bytes(static_cast<std::size_t>(100 + i), static_cast<std::uint8_t>(i)), 0);
    wire.insert(wire.end(), small.begin(), small.end());
  }
  b.feed->write_all(wire);
  while (b.channel->read_available() != Buffered::frame) {
  }
  CHECK(b.channel->recv() == large);
  CHECK(b.channel->buffer_capacity() <= 1 * MiB);  // the 3 MiB buffer did not stay
  for (int i = 0; i < 50; ++i) {
    CHECK(b.channel->recv() == Bytes(static_cast<std::size_t>(100 + i), static_cast<std::uint8_t>(i)));
  }
  CHECK(b.budget.in_use() == 0);
}
