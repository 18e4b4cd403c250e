// What fuzzing and reading the harnesses' traces turned up in the library, as doctest cases
// that pin the fix.
#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "netref/channel/channel.hpp"
#include "netref/protocol/brine.hpp"
#include "netref/protocol/connection.hpp"
#include "netref/service/service.hpp"
#include "netref/stream/memory_stream.hpp"

using namespace netref;

namespace {

/// A server Connection lending a Service with a callback method, served by its own thread;
/// the test is its peer and writes RPyC 5.x messages by hand.
struct RawSession {
  StreamPtr raw;
  std::shared_ptr<Connection> server;
  std::thread thread;

  RawSession() {
    static const Service service = [] {
      Service s;
      s.def("apply", [](const std::function<std::int64_t(std::int64_t)>& fn, std::int64_t x) { return fn(x); });
      return s;
    }();
    auto [a, b] = make_memory_pair();
    raw = std::move(a);
    ConnectionConfig cfg;
    cfg.detect_generation = true;
    server = Connection::create(std::make_unique<Channel>(std::move(b)), service.root_object(), cfg);
    thread = std::thread([s = server] { s->serve_all(); });
  }
  ~RawSession() {
    raw->close();
    server->close();
    thread.join();
  }

  void send(std::int64_t msg, std::int64_t seq, Value body) {
    const auto payload = brine::encode(tuple_of(msg, seq, std::move(body)));
    const auto n = static_cast<std::uint32_t>(payload.size());
    std::vector<std::uint8_t> frame = {static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
                                       static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n), 0};
    frame.insert(frame.end(), payload.begin(), payload.end());
    frame.push_back('\n');
    raw->write_all(frame);
  }
  /// The next message the server wrote, as (msg, seq, body).
  Value receive() {
    std::uint8_t header[5];
    raw->read_exact(header);
    const std::size_t n = std::size_t{header[0]} << 24 | std::size_t{header[1]} << 16 | std::size_t{header[2]} << 8 | header[3];
    std::vector<std::uint8_t> payload(n + 1);
    raw->read_exact(payload);
    payload.pop_back();
    return brine::decode(payload);
  }
};

Value boxed(std::int64_t label, Value v) { return tuple_of(label, std::move(v)); }

}  // namespace

// docs/FAULTS.md R5 and C4: a new request that reuses a seq still in flight closes the
// connection. Here the first request (seq 1) is waiting for its callback's reply when a second
// request with seq 1 arrives; the server used to serve it and answer seq 1 twice (found in the
// session harness's trace). The same input for the harness:
// fuzz/regressions/session/duplicate_inflight_seq.
TEST_CASE("a request reusing the seq of one still being served closes the connection") {
  RawSession s;
  s.send(1, 0, tuple_of(3, boxed(1, Tuple{})));  // GETROOT
  const Value root = s.receive();
  const Value root_id = root.get_if<Tuple>()->items[2].get_if<Tuple>()->items[1];
  // CALLATTR(root, "apply", (our function, 5)): the server calls our function back
  const Value our_function = boxed(4, tuple_of("builtins.builtin_function_or_method", 7, 9));
  s.send(1, 1, tuple_of(8, boxed(2, tuple_of(boxed(3, root_id), boxed(1, "apply"), boxed(2, tuple_of(our_function, boxed(1, 5))),
                                             boxed(1, Tuple{})))));
  const Value callback = s.receive();
  REQUIRE(*callback.get_if<Tuple>()->items[0].get_if<std::int64_t>() == 1);  // the server's CALL to us
  s.send(1, 1, tuple_of(1, boxed(1, tuple_of("again"))));  // PING, reusing seq 1
  // Expected: perhaps a final error frame, then EOF. Not a reply to the second seq 1.
  bool closed = false;
  for (int i = 0; i < 3 && !closed; ++i) {
    try {
      const Value next = s.receive();
      const auto& items = next.get_if<Tuple>()->items;
      if (*items[0].get_if<std::int64_t>() == 2 && *items[1].get_if<std::int64_t>() == 1) {
        FAIL_CHECK("the server answered the duplicate seq: " << next.debug_string(100));
        break;
      }
    } catch (const ConnectionClosed&) {
      closed = true;
    }
  }
  CHECK(closed);
}
