// Fuzz target L6 (docs/FAULTS.md §6): the lent-object tables of both peers, against a model.
// A client and a server Connection over an in-memory pair, served in turn on one thread
// (requests go out async, then each side polls until neither has anything to read), so every
// run is deterministic. The server lends Items; the client holds the netrefs it receives in a
// few slots, duplicates and drops them, passes them back, and lends Items of its own for server
// Items to keep. Each Item has its own type name, so a netref names the object it stands for.
//
// Input: byte 0 picks the client's generation (bit 0: v6). Then operations: an op byte and an
// operand byte (operand % 6: the slot written; (operand >> 4) % 6: the slot whose netref is the
// target), op_self and op_keep one byte more (see Op below). At most 200 operations.
//
// Whenever both peers are idle (op_pump, and at the end) the model says what each table holds:
//  - the server lends exactly the distinct objects the client holds netrefs to, each
//    lent_count(item) == that netref's received() (RPyC's refcount: one DEL of that count
//    when the last handle goes); the same for the client's Items the server's Items keep;
//  - netrefs_held on each side is the number of distinct netrefs it holds;
//  - every request was answered or failed, none is pending;
//  - once closed: nothing lent, nothing pending, every call failed; at the end every Item is
//    freed and both Connections are destroyed.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "fuzz_support.hpp"
#include "netref/channel/channel.hpp"
#include "netref/protocol/connection.hpp"
#include "netref/protocol/errors.hpp"
#include "netref/stream/memory_stream.hpp"

namespace {

using netref::ObjectPtr;
using netref::RemoteRefPtr;
using netref::Tuple;
using netref::Value;
using netref::fuzz::Input;

class Item;

// Every Item of the current run, by its name ("s3": the server's third, "c1": the client's).
std::map<std::string, std::weak_ptr<Item>>& items() {
  static std::map<std::string, std::weak_ptr<Item>> all;
  return all;
}

std::shared_ptr<Item> new_item(char side);

/// An object with a type name of its own, so a netref's id_pack says which Item it is.
class Item : public netref::Object {
 public:
  explicit Item(std::string name) : name_(std::move(name)) {}
  std::string_view type_name() const noexcept override { return name_; }

  Value kept;  // what keep() stored: may hold a netref to a client Item, or another Item

  Value callattr(std::string_view name, netref::Args args, netref::Kwargs kwargs) override {
    auto first = [&] { return args.empty() ? Value() : args[0]; };
    if (name == "make") return Value(ObjectPtr(new_item(name_[0])));
    if (name == "self") return Value(shared_from_this());
    if (name == "twice") return netref::tuple_of(shared_from_this(), shared_from_this());
    if (name == "pair") return netref::tuple_of(shared_from_this(), ObjectPtr(new_item(name_[0])));
    if (name == "echo") return first();
    if (name == "keep") {
      kept = first();
      return Value();
    }
    if (name == "forget") {
      kept = Value();
      return Value();
    }
    if (name == "kept") return kept;
    if (name == "add") return Value(std::int64_t{static_cast<std::int64_t>(args.size())});
    if (name == "fail") throw std::runtime_error("fail on " + name_);
    return Object::callattr(name, std::move(args), std::move(kwargs));
  }

 private:
  std::string name_;
};

std::shared_ptr<Item> new_item(char side) {
  auto& all = items();
  std::string name = std::string(1, side) + std::to_string(all.size());
  auto item = std::make_shared<Item>(name);
  all.emplace(std::move(name), item);
  return item;
}

using netref::fuzz::trace;

std::string describe(const netref::AsyncResult& result) {
  if (!result.error()) return result.value().debug_string(120);
  try {
    std::rethrow_exception(result.error());
  } catch (const std::exception& e) {
    return std::string("error: ") + e.what();
  }
  return "error";
}

enum Op : std::uint8_t {
  op_getroot,    // slot <- GETROOT
  op_make,       // slot <- target.make()
  op_self,       // slot <- target.self() / twice() / pair() / kept()  (operand picks)
  op_echo,       // slot <- target.echo(slot value)
  op_keep,       // target.keep(slot value, or a client Item)
  op_forget,     // target.forget()
  op_dup,        // slot <- slot (no message)
  op_drop,       // slot <- None (the last handle sends DEL)
  op_call,       // target.add() / target.fail(): no change to the tables
  op_client_item,  // a new client Item in a client slot, or drop one
  op_pump,       // serve both until idle, then check the model
  op_hello,      // HELLO: the server batches its DELs from now on
  op_close,      // close the client or the server
  op_count
};

struct Peers {
  std::shared_ptr<netref::Connection> client;
  std::shared_ptr<netref::Connection> server;
  std::shared_ptr<Item> root;
  Value slots[6];
  ObjectPtr client_items[3];
  std::vector<std::pair<netref::AsyncResult, std::size_t>> results;  // reply -> slot

  // The netref held in a slot (first one inside a tuple), or null.
  static RemoteRefPtr ref_in(const Value& v) {
    if (auto* r = v.get_if<RemoteRefPtr>()) return *r;
    if (auto* t = v.get_if<Tuple>()) {
      for (const auto& item : t->items) {
        if (auto r = ref_in(item)) return r;
      }
    }
    return nullptr;
  }

  void request(netref::Handler handler, netref::Args args, std::size_t slot) {
    try {
      results.emplace_back(client->async_request(handler, std::move(args)), slot);
    } catch (const netref::ConnectionClosed&) {
      NETREF_FUZZ_CHECK(client->closed(), "async_request threw ConnectionClosed on an open connection");
    }
  }
  void callattr(const RemoteRefPtr& target, const char* name, Tuple args, std::size_t slot) {
    if (!target) return;
    request(netref::Handler::callattr, {Value(target), Value(name), Value(std::move(args)), Value(Tuple{})}, slot);
  }

  // Serves both peers until neither has a frame to read, and takes the replies into their
  // slots; the netrefs that displaces send DELs, so serve once more after that.
  void pump() {
    serve_until_idle();
    for (auto& [result, slot] : results) {
      NETREF_FUZZ_CHECK(result.ready(), "a request is neither answered nor failed once both peers are idle");
      slots[slot] = result.error() ? Value() : result.value();
      if (trace()) std::fprintf(stderr, "  slot %zu <- %s\n", slot, describe(result).c_str());
    }
    results.clear();
    serve_until_idle();
  }

  void serve_until_idle() {
    for (int turn = 0; turn < 100000; ++turn) {
      bool progress = false;
      for (auto* c : {server.get(), client.get()}) {
        try {
          progress |= c->poll();
        } catch (const netref::ConnectionClosed&) {
          NETREF_FUZZ_CHECK(c->closed(), "poll threw ConnectionClosed on an open connection");
        } catch (const std::exception& e) {
          NETREF_FUZZ_CHECK(false, std::string("poll threw ") + e.what());
        }
      }
      if (!progress) break;
    }
  }

  void check_model() {
    if (trace()) {
      for (auto* c : {client.get(), server.get()}) {
        const auto s = c->stats();
        std::fprintf(stderr, "  %s: closed %d lent %zu netrefs %zu pending %zu frames in %llu out %llu late %llu\n",
                     c == client.get() ? "client" : "server", c->closed(), s.lent_objects, s.netrefs_held,
                     s.pending_requests, static_cast<unsigned long long>(s.frames_in),
                     static_cast<unsigned long long>(s.frames_out), static_cast<unsigned long long>(s.late_replies));
      }
    }
    if (client->closed() || server->closed()) {
      for (auto* c : {client.get(), server.get()}) {
        const auto s = c->stats();
        NETREF_FUZZ_CHECK(c->closed(), "one peer closed, the other did not notice");
        NETREF_FUZZ_CHECK(s.lent_objects == 0 && s.pending_requests == 0, "a closed connection still lends or waits");
      }
      return;
    }
    // What the client holds (slots) and what the server holds (Values kept by its Items).
    std::set<RemoteRefPtr> client_refs;
    for (const auto& v : slots) collect(v, client_refs);
    std::set<RemoteRefPtr> server_refs;
    for (const auto& [name, weak] : items()) {
      if (auto item = weak.lock(); item && name[0] == 's') collect(item->kept, server_refs);
    }
    expect_lent(*server, client_refs, "server");
    expect_lent(*client, server_refs, "client");
    NETREF_FUZZ_CHECK(client->stats().netrefs_held == client_refs.size(), "client netrefs_held differs from the netrefs it holds");
    NETREF_FUZZ_CHECK(server->stats().netrefs_held == server_refs.size(), "server netrefs_held differs from the netrefs it holds");
    NETREF_FUZZ_CHECK(client->stats().pending_requests == 0 && server->stats().pending_requests == 0,
                      "a request is pending once both peers are idle");
  }

  static void collect(const Value& v, std::set<RemoteRefPtr>& out) {
    if (auto* r = v.get_if<RemoteRefPtr>(); r && *r) out.insert(*r);
    if (auto* t = v.get_if<Tuple>()) {
      for (const auto& item : t->items) collect(item, out);
    }
  }

  // lender's table holds exactly the objects refs stand for, each lent received() times.
  static void expect_lent(const netref::Connection& lender, const std::set<RemoteRefPtr>& refs, const char* who) {
    NETREF_FUZZ_CHECK(lender.stats().lent_objects == refs.size(),
                      std::string(who) + " lends " + std::to_string(lender.stats().lent_objects) + " objects, the peer holds " +
                          std::to_string(refs.size()) + " netrefs");
    for (const auto& ref : refs) {
      auto found = items().find(ref->id_pack().type_name);
      NETREF_FUZZ_CHECK(found != items().end(), "a netref names no Item: " + ref->id_pack().type_name);
      auto item = found->second.lock();
      NETREF_FUZZ_CHECK(item != nullptr, "a netref outlived the object it stands for: " + ref->id_pack().type_name);
      NETREF_FUZZ_CHECK(lender.lent_count(*item) == ref->received(),
                        std::string(who) + " lent " + ref->id_pack().type_name + " " + std::to_string(lender.lent_count(*item)) +
                            " times, the peer received it " + std::to_string(ref->received()) + " times");
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  items().clear();
  std::weak_ptr<netref::Connection> weak_client, weak_server;
  {
    Peers p;
    auto [a, b] = netref::make_memory_pair();
    netref::ConnectionConfig client_cfg;
    client_cfg.generation = (in.u8() & 1) ? netref::Generation::v6 : netref::Generation::v5;
    // Requests leave as they are made: the model steps both peers by hand, with no clock.
    client_cfg.request_batch_delay = std::chrono::microseconds(0);
    netref::ConnectionConfig server_cfg;
    server_cfg.detect_generation = true;
    p.root = new_item('s');
    p.client = netref::Connection::create(std::make_unique<netref::Channel>(std::move(a)), nullptr, client_cfg);
    p.server = netref::Connection::create(std::make_unique<netref::Channel>(std::move(b)), p.root, server_cfg);
    weak_client = p.client;
    weak_server = p.server;

    constexpr std::size_t kSlots = std::size(p.slots);
    for (std::size_t ops = 0; !in.empty() && ops < 200; ++ops) {
      const std::uint8_t op = in.u8();
      const std::uint8_t operand = in.u8();
      const std::size_t slot = operand % kSlots;
      const std::size_t other = (operand >> 4) % kSlots;
      // A temporary at each use: a handle kept across a pump would hold the netref alive.
      auto target = [&] { return Peers::ref_in(p.slots[other]); };
      if (trace()) {
        std::fprintf(stderr, "op %u operand 0x%02x (slot %zu, target slot %zu: %s)\n", op % op_count, operand, slot, other,
                     target() ? target()->id_pack().type_name.c_str() : "none");
      }
      switch (op % op_count) {
        case op_getroot: p.request(netref::Handler::getroot, {}, slot); break;
        case op_make: p.callattr(target(), "make", {}, slot); break;
        case op_self: {
          static constexpr const char* kNames[] = {"self", "twice", "pair", "kept"};
          p.callattr(target(), kNames[in.below(4)], {}, slot);
          break;
        }
        case op_echo: p.callattr(target(), "echo", Tuple{{p.slots[slot]}}, slot); break;
        case op_keep: {
          const std::uint8_t what = in.u8();
          Value v = (what & 1) ? Value(p.client_items[what % 3]) : p.slots[slot];
          if (v.is_none() || (v.get_if<ObjectPtr>() && !*v.get_if<ObjectPtr>())) v = Value();
          p.callattr(target(), "keep", Tuple{{std::move(v)}}, (slot + 1) % kSlots);
          break;
        }
        case op_forget: p.callattr(target(), "forget", {}, (slot + 1) % kSlots); break;
        case op_dup: p.slots[slot] = p.slots[other]; break;
        case op_drop: p.slots[slot] = Value(); break;
        case op_call: p.callattr(target(), (operand & 8) ? "fail" : "add", Tuple{{Value(1)}}, slot); break;
        case op_client_item:
          p.client_items[operand % 3] = (operand & 0x80) ? nullptr : ObjectPtr(new_item('c'));
          break;
        case op_hello:
          p.request(netref::Handler::hello, {Value(netref::Bytes{"netref"}), Value(1), Value(Tuple{})}, slot);
          break;
        case op_close:
          if (operand & 1) {
            p.client->close();
          } else {
            p.server->close();
          }
          break;
        default:
          p.pump();
          p.check_model();
          break;
      }
    }
    p.pump();
    p.check_model();

    // Tear down: let go of everything, break keep() cycles, close; nothing may survive.
    for (auto& v : p.slots) v = Value();
    for (auto& o : p.client_items) o = nullptr;
    for (auto& [name, weak] : items()) {
      if (auto item = weak.lock()) item->kept = Value();
    }
    p.pump();
    p.check_model();
    p.client->close();
    p.pump();
    p.check_model();
  }
  NETREF_FUZZ_CHECK(weak_client.expired() && weak_server.expired(), "a connection outlived its last handle");
  for (const auto& [name, weak] : items()) {
    NETREF_FUZZ_CHECK(weak.expired(), "Item " + name + " outlived both connections");
  }
  return 0;
}
