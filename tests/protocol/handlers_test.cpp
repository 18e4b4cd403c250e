// Every standard handler a Python netref class uses answers, and concurrent callers share one
// connection safely.
#include <doctest/doctest.h>

#include <zlib.h>

#include <thread>

#include "harness.hpp"
#include "netref/protocol/brine.hpp"

using namespace netref;
using netref::test::Pair;
using netref::test::Thing;

namespace {

/// A Thing that also iterates, compares and reports its methods.
class Rich : public Thing {
 public:
  std::vector<std::int64_t> items{1, 2, 3, 4, 5};
  std::size_t next = 0;
  std::string_view type_name() const noexcept override { return "tests.Rich"; }
  std::string repr() override { return "<Rich " + std::to_string(value.load()) + ">"; }
  std::string str() override { return "rich"; }
  std::int64_t hash() override { return 1234; }
  std::vector<std::string> dir() override { return {"add", "value"}; }
  std::vector<MethodInfo> inspect() override { return {{"add", "add(a, b)"}, {"__iter__", ""}}; }
  std::vector<Value> next_items(std::size_t count) override {
    std::vector<Value> out;
    while (out.size() < count && next < items.size()) out.emplace_back(items[next++]);
    return out;
  }
  void delattr(std::string_view name) override {
    if (name == "value") {
      value = -1;
      return;
    }
    Thing::delattr(name);
  }
  Value callattr(std::string_view name, Args args, Kwargs kwargs) override {
    if (name == "__exit__") return Value(args.at(0).is_none() ? "clean exit" : "exit with error");
    return Thing::callattr(name, std::move(args), std::move(kwargs));
  }
};

std::string as_str(const Value& v) {
  auto* s = v.get_if<std::string>();
  REQUIRE(s != nullptr);
  return *s;
}

}  // namespace

TEST_CASE("each standard handler answers: ping, repr, str, hash, cmp, dir, inspect, buffiter, ctxexit, delattr, call, instancecheck") {
  auto rich = std::make_shared<Rich>();
  Pair p(rich);
  auto r = p.client->root();
  Value self(r);
  p.client->ping();
  CHECK(as_str(p.client->sync_request(Handler::ping, {Value("echo me")})) == "echo me");
  CHECK(r->repr() == "<Rich 0>");
  CHECK(r->str() == "rich");
  CHECK(std::get<std::int64_t>(p.client->sync_request(Handler::hash, {self}).storage()) == 1234);
  CHECK(std::get<bool>(p.client->sync_request(Handler::cmp, {self, self, Value("__eq__")}).storage()));
  CHECK(std::get<bool>(p.client->sync_request(Handler::cmp, {self, Value(1), Value("__eq__")}).storage()) == false);
  auto dir = p.client->sync_request(Handler::dir, {self});
  CHECK(dir == Value(Tuple{{Value("add"), Value("value")}}));
  Value id_pack(Tuple{{Value(r->id_pack().type_name), Value(static_cast<std::int64_t>(r->id_pack().type_id)),
                       Value(static_cast<std::int64_t>(r->id_pack().object_id))}});
  auto methods = p.client->sync_request(Handler::inspect, {id_pack});
  CHECK(methods == Value(Tuple{{tuple_of("add", "add(a, b)"), tuple_of("__iter__", "")}}));
  CHECK(p.client->sync_request(Handler::buffiter, {self, Value(3)}) == Value(Tuple{{Value(1), Value(2), Value(3)}}));
  CHECK(p.client->sync_request(Handler::buffiter, {self, Value(3)}) == Value(Tuple{{Value(4), Value(5)}}));
  CHECK(p.client->sync_request(Handler::buffiter, {self, Value(3)}) == Value(Tuple{}));
  CHECK(as_str(p.client->sync_request(Handler::ctxexit, {self, Value()})) == "clean exit");
  p.client->sync_request(Handler::delattr, {self, Value("value")});
  CHECK(rich->value == -1);
  CHECK(std::get<std::int64_t>(p.client->sync_request(Handler::call, {self, Value(Tuple{{Value(11)}}), Value(Tuple{})}).storage()) == 10);
  CHECK(std::get<bool>(p.client->sync_request(Handler::instancecheck, {self, id_pack}).storage()) == false);
  CHECK_THROWS_AS(p.client->sync_request(Handler::oldslicing, {self}), TypeError);
}

TEST_CASE("a CLOSE request from the peer closes the connection and drops what it lent") {
  Pair p;
  auto r = p.client->root();
  auto made = r->callattr("make", {Value(1)});
  p.sync();
  CHECK(p.server->stats().lent_objects == 2);
  p.client->close();  // sends CLOSE
  p.server_thread.join();
  p.server_thread = std::thread([] {});
  CHECK(p.server->closed());
  CHECK(p.server->stats().lent_objects == 0);
}

TEST_CASE("eight threads share one connection and every reply reaches its own caller") {
  Pair p;
  auto r = p.client->root();
  constexpr int threads = 8;
  constexpr int calls = 300;
  std::vector<std::future<int>> results;
  for (int t = 0; t < threads; ++t) {
    results.push_back(std::async(std::launch::async, [r, t] {
      int wrong = 0;
      for (int i = 0; i < calls; ++i) {
        Value v = r->callattr("add", {Value(t * 100000), Value(i)});
        if (*v.get_if<std::int64_t>() != t * 100000 + i) ++wrong;
      }
      return wrong;
    }));
  }
  for (auto& f : results) CHECK(f.get() == 0);
  CHECK(p.client->stats().pending_requests == 0);
}

TEST_CASE("a zlib bomb closes the connection at the inflate limit") {
  auto [a, b] = make_memory_pair();
  ChannelConfig ch;
  ch.max_inflated_bytes = 1 << 20;
  ConnectionConfig cfg;
  cfg.detect_generation = true;
  auto server = Connection::create(std::make_unique<Channel>(std::move(b), ch), std::make_shared<Thing>(), cfg);
  std::thread serving([server] { server->serve_all(); });
  std::vector<std::uint8_t> zeros(64u << 20, 0);
  uLongf size = compressBound(zeros.size());
  std::vector<std::uint8_t> bomb(size);
  REQUIRE(compress2(bomb.data(), &size, zeros.data(), zeros.size(), 9) == Z_OK);
  bomb.resize(size);
  std::vector<std::uint8_t> frame = {static_cast<std::uint8_t>(size >> 24), static_cast<std::uint8_t>(size >> 16),
                                     static_cast<std::uint8_t>(size >> 8), static_cast<std::uint8_t>(size), 1};
  frame.insert(frame.end(), bomb.begin(), bomb.end());
  frame.push_back('\n');
  a->write_all(frame);
  serving.join();
  REQUIRE(server->closed());
  try {
    std::rethrow_exception(server->close_error());
  } catch (const ProtocolError& e) {
    CHECK(std::string(e.what()).find("max_inflated_bytes") != std::string::npos);
  }
}
