#pragma once
// A client and a server connection over an in-memory stream pair, the server served by its
// own thread, plus a small test object. For protocol tests that need no service layer.
#include <atomic>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "netref/channel/channel.hpp"
#include "netref/protocol/connection.hpp"
#include "netref/stream/memory_stream.hpp"

namespace netref::test {

/// A test object: attributes and methods written by hand against the Object interface.
class Thing : public Object {
 public:
  explicit Thing(std::int64_t initial = 0) : value(initial) { ++alive(); }
  ~Thing() override { --alive(); }
  /// Things in existence (leak checks).
  static std::atomic<int>& alive() {
    static std::atomic<int> count{0};
    return count;
  }
  std::atomic<std::int64_t> value;
  std::shared_future<void> gate;  // "block" waits on it (a slow handler)

  std::string_view type_name() const noexcept override { return "tests.Thing"; }
  Value getattr(std::string_view name) override {
    if (name == "value") return Value(value.load());
    return Object::getattr(name);
  }
  void setattr(std::string_view name, Value v) override {
    if (name == "value" && v.get_if<std::int64_t>()) {
      value = *v.get_if<std::int64_t>();
      return;
    }
    Object::setattr(name, std::move(v));
  }
  Value callattr(std::string_view name, Args args, Kwargs kwargs) override {
    if (name == "add") {
      auto a = args.at(0).get_if<std::int64_t>();
      auto b = args.size() > 1 ? args[1].get_if<std::int64_t>() : nullptr;
      if (!a) throw TypeError("add(int, int)");
      std::int64_t extra = b ? *b : 0;
      for (auto& [k, v] : kwargs) {
        if (k == "b" && v.get_if<std::int64_t>()) extra = *v.get_if<std::int64_t>();
      }
      return Value(*a + extra);
    }
    if (name == "make") return Value(ObjectPtr(std::make_shared<Thing>(args.empty() ? 0 : *args[0].get_if<std::int64_t>())));
    if (name == "self") return Value(shared_from_this());
    if (name == "fail") throw std::invalid_argument("bad value: " + std::to_string(value.load()));
    if (name == "apply") {  // apply(fn, x): calls back whoever lent fn
      Args rest(std::make_move_iterator(args.begin() + 1), std::make_move_iterator(args.end()));
      return call_value(args.at(0), std::move(rest));
    }
    if (name == "big") return Value(std::string(static_cast<std::size_t>(*args.at(0).get_if<std::int64_t>()), 'x'));
    if (name == "echo") return args.empty() ? Value() : std::move(args[0]);
    if (name == "block") {
      gate.wait();
      return Value(1);
    }
    return Object::callattr(name, std::move(args), std::move(kwargs));
  }
  Value call(Args args, Kwargs) override {  // calling a Thing adds to it
    value += *args.at(0).get_if<std::int64_t>();
    return Value(value.load());
  }
};

/// A callable Object from a lambda (for callbacks in protocol tests).
template <class F>
class Callable : public Object {
 public:
  explicit Callable(F f) : f_(std::move(f)) {}
  std::string_view type_name() const noexcept override { return "builtins.builtin_function_or_method"; }
  Value call(Args args, Kwargs) override { return f_(args); }

 private:
  F f_;
};
template <class F>
ObjectPtr callable(F f) {
  return std::make_shared<Callable<F>>(std::move(f));
}

/// A Tuple of ints, for building call arguments by hand.
template <class... Ts>
Value make_args(Ts... xs) {
  return Value(Tuple{{Value(static_cast<std::int64_t>(xs))...}});
}

/// Two connections over a memory pair; the server side is served by a thread until closed.
struct Pair {
  std::shared_ptr<Connection> client;
  std::shared_ptr<Connection> server;
  std::thread server_thread;

  explicit Pair(ObjectPtr server_root = std::make_shared<Thing>(), ConnectionConfig client_cfg = {},
                ConnectionConfig server_cfg = {}, ObjectPtr client_root = std::make_shared<Thing>()) {
    auto [a, b] = make_memory_pair();
    server_cfg.detect_generation = true;
    client = Connection::create(std::make_unique<Channel>(std::move(a)), client_root, client_cfg);
    server = Connection::create(std::make_unique<Channel>(std::move(b)), server_root, server_cfg);
    server_thread = std::thread([s = server] { s->serve_all(); });
  }
  ~Pair() {
    client->close();
    server->close();
    if (server_thread.joinable()) server_thread.join();
  }
  /// A round trip: every message the client sent before has been served when it returns
  /// (the server serves its connection in order on one thread).
  void sync() { client->ping(); }
};

}  // namespace netref::test
