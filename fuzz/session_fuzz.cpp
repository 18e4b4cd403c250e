// Fuzz target L5 (docs/FAULTS.md §6): a server session. A Connection lending a small test
// Service (one method returning a new object, some throwing, one calling back, an exposed type)
// reads the frames the input describes from a scripted in-memory stream and answers into it.
// The stream has no clock: at the end of what was delivered a zero-timeout poll sees nothing
// and any real wait sees EOF, so a run never sleeps and always replays the same way.
//
// Input: byte 0 and byte 1 configure (generation, extensions, small limits, serving by
// serve() or serve_available(), an interceptor). Then operations, each led by one byte: a raw
// frame, raw bytes, structured requests for every handler (targets, names and arguments chosen
// by the input, object ids guessed: they are assigned 1, 2, 3...), replies and exceptions to
// the server's own callback requests (its seqs count from 0), DEL / DEL_BATCH, a compressed
// frame, CLOSE, "serve now", and pipelining's kept requests, promises (5, seq) as targets
// (some forged: out of range, negative, big, not an int) and RELEASE_RESULTS. See Op below.
//
// Checked after every serve step and at the end:
//  - nothing but netref errors comes out of serve(); a connection that closed itself did so
//    for a netref::Error, never a std::logic_error or bad_alloc turned into a close;
//  - everything the server wrote is well-formed: frames, flag, terminator, brine, a message
//    envelope of its generation, a known message type, valid boxing labels, exceptions that
//    decode as well-formed vinegar;
//  - no handler is running and no request is pending once serving returned; the lent table
//    holds no more objects than the server has sent ids of, nor more than max_lent_objects;
//  - after close(): no lent objects, no pending requests, no netrefs held; once dropped, the
//    Connection is destroyed (no reference cycle) and every Widget it lent is freed.
#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "netref/channel/channel.hpp"
#include "netref/protocol/brine.hpp"
#include "netref/protocol/connection.hpp"
#include "netref/protocol/detail/connection_access.hpp"
#include "netref/protocol/exception_codec.hpp"
#include "netref/service/service.hpp"
#include "scripted_stream.hpp"

namespace {

using netref::Bytes;
using netref::Tuple;
using netref::Value;
using netref::fuzz::Input;
using netref::fuzz::ScriptedStream;

// ---------------------------------------------------------------------------------------------
// The test service

std::int64_t widgets_alive = 0;

struct Widget {
  std::int64_t value = 0;
  Widget() { ++widgets_alive; }
  Widget(const Widget& other) : value(other.value) { ++widgets_alive; }
  Widget& operator=(const Widget&) = default;
  ~Widget() { --widgets_alive; }
};

const netref::Service& test_service() {
  static const netref::Service service = [] {
    netref::Registry types;
    types.expose<Widget>("Widget")
        .def("add", [](Widget& w, std::int64_t n) { return w.value += n; })
        .def_readwrite("value", &Widget::value)
        .def("fail", [](const Widget& w) -> std::int64_t { throw std::invalid_argument("widget " + std::to_string(w.value)); })
        .def("self", [](std::shared_ptr<Widget> w) { return w; })
        .def("__call__", [](Widget& w, std::int64_t n) { return w.value * n; })
        .def("__eq__", [](const Widget& a, const Widget& b) { return a.value == b.value; })
        .def("__next__", [](Widget& w) -> std::int64_t {
          if (w.value <= 0) throw netref::StopIteration();
          return w.value--;
        });
    netref::Service s(types, "FuzzService");
    s.def("add", [](std::int64_t a, std::int64_t b) { return a + b; }, netref::arg("a"), netref::arg("b") = 2);
    s.def("make", [](std::int64_t v) {
      auto w = std::make_shared<Widget>();
      w->value = v;
      return w;
    });
    s.def("echo", [](Value v) { return v; });
    s.def("fail", [](std::string message) -> std::int64_t { throw std::runtime_error(message); });
    s.def("throw_int", []() -> std::int64_t { throw 42; });
    s.def("apply", [](const std::function<std::int64_t(std::int64_t)>& fn, std::int64_t x) { return fn(x); });
    s.def("sum", [](const std::vector<std::int64_t>& v) {
      std::int64_t total = 0;
      for (auto x : v) total += x % 1000;
      return total;
    });
    s.def("keys", [](const std::map<std::string, std::int64_t>& m) { return static_cast<std::int64_t>(m.size()); });
    s.def("big", [](std::int64_t n) { return std::string(static_cast<std::size_t>(std::clamp<std::int64_t>(n, 0, 1 << 17)), 'x'); });
    s.attr("version", "1.0");
    return s;
  }();
  return service;
}

// ---------------------------------------------------------------------------------------------
// Building messages

enum Op : std::uint8_t {
  op_raw_frame,     // u8 n, n bytes: one frame around them (flag 0)
  op_raw_bytes,     // u8 n, n bytes: straight onto the stream
  op_request,       // a request for a handler, shaped as RPyC sends it (or not)
  op_callattr,      // CALLATTR on an object, the commonest request
  op_reply,         // a reply to one of the server's seqs
  op_exception,     // an exception for one of the server's seqs
  op_del,           // DEL(object, count)
  op_del_batch,     // DEL_BATCH((object, count), ...)
  op_compressed,    // the next request, zlib-compressed (flag 1)
  op_close,         // CLOSE
  op_serve,         // deliver what was written and serve until idle
  op_getroot,       // GETROOT
  op_pipelined,     // a request asking to be kept (handler + 0x100) and/or naming (5, seq) as its target
  op_release,       // RELEASE_RESULTS(seq, ...)
  op_count
};

constexpr netref::Handler kHandlers[] = {
    netref::Handler::ping,    netref::Handler::getroot,  netref::Handler::getattr,   netref::Handler::delattr,
    netref::Handler::setattr, netref::Handler::call,     netref::Handler::callattr,  netref::Handler::repr,
    netref::Handler::str,     netref::Handler::cmp,      netref::Handler::hash,      netref::Handler::dir,
    netref::Handler::pickle,  netref::Handler::inspect,  netref::Handler::buffiter,  netref::Handler::oldslicing,
    netref::Handler::ctxexit, netref::Handler::instancecheck, netref::Handler::hello, netref::Handler::callchain,
    netref::Handler::getchain};
constexpr std::int64_t kOddHandlers[] = {0, 21, 63, 68, 255, 256, -1, 1000000};
constexpr std::string_view kTypeNames[] = {"FuzzService", "Widget", "builtins.builtin_function_or_method", ""};

class Builder {
 public:
  Builder(Input& in, netref::Generation generation) : in_(in), generation_(generation) {}

  // (type name, type id, object id): an object the server lent (ids count from 1), or not;
  // rarely an id past int64 (a BigInt on the wire) or a pointer-looking one (D4).
  Value id_pack() {
    const std::uint8_t b = in_.u8();
    Value type_name{std::string(kTypeNames[b % std::size(kTypeNames)])};
    Value object_id(static_cast<std::int64_t>(b >> 4));  // 0..15
    if (b == 0xff) object_id = Value(static_cast<std::int64_t>(in_.u64() >> 1));
    if (b == 0xfe) object_id = Value(netref::BigInt{std::to_string(in_.u64() | (1ull << 63))});
    return netref::tuple_of(std::move(type_name), static_cast<std::int64_t>(in_.u16()), std::move(object_id));
  }
  static Value boxed(std::int64_t label, Value v) { return netref::tuple_of(label, std::move(v)); }

  Value name() {
    const std::uint8_t b = in_.u8();
    std::string s = b < 240 ? std::string(netref::fuzz::kWords[in_.below(std::size(netref::fuzz::kWords))])
                    : b < 255 ? in_.text(in_.u8())
                              : std::string(4096 + in_.below(2), 'a');  // at and past the name limit
    if (!netref::fuzz::utf8_ok(s)) return Value(Bytes{std::move(s)});  // a str must be UTF-8; names may be bytes
    return Value(std::move(s));
  }

  Value plain() {
    netref::fuzz::GenOptions options;
    options.invalid = false;
    options.max_depth = 3;
    return netref::fuzz::make_value(in_, options);
  }

  // One boxed argument: a server object, a netref to one of "ours", a name, a value, a tuple.
  Value arg(std::size_t depth = 0) {
    const std::uint8_t kind = in_.u8();
    switch (kind % 8) {
      case 0: return boxed(3, id_pack());                     // LABEL_LOCAL_REF: the server's object
      case 1: return boxed(4, id_pack());                     // LABEL_REMOTE_REF: ours, lent to it
      case 2: return boxed(1, name());
      case 3: return boxed(1, static_cast<std::int64_t>(static_cast<std::int8_t>(in_.u8())));
      case 4: {
        if (depth >= 3) return boxed(1, Value());
        Tuple items;
        for (std::size_t n = in_.below(4); n > 0; --n) items.items.push_back(arg(depth + 1));
        return boxed(2, Value(std::move(items)));             // LABEL_TUPLE
      }
      case 5: return boxed(static_cast<std::int64_t>(in_.u8()) - 2, plain());  // any label
      default: return boxed(1, plain());
    }
  }
  Value call_args() {
    if (in_.u8() & 1) return boxed(1, Value(Tuple{}));
    Tuple items;
    for (std::size_t n = in_.below(4); n > 0; --n) items.items.push_back(arg(1));
    return boxed(2, Value(std::move(items)));
  }
  Value kwargs() {
    const std::uint8_t b = in_.u8();
    if (b % 3 == 0) return boxed(1, Value());
    Tuple pairs;
    for (std::size_t n = b % 3; n > 0; --n) pairs.items.push_back(netref::tuple_of(name(), plain()));
    return boxed(1, Value(std::move(pairs)));
  }

  // The boxed args tuple for a handler, in the shape rpyc's netrefs send.
  Value args_for(netref::Handler h) {
    using H = netref::Handler;
    // Mostly an object the server lent; sometimes one of ours, which it must call back (a
    // forwarding target).
    auto object = [&] { return boxed((in_.u8() & 7) == 7 ? 4 : 3, id_pack()); };
    std::vector<Value> a;
    switch (h) {
      case H::ping: a = {boxed(1, plain())}; break;
      case H::getroot: break;
      case H::getattr:
      case H::delattr: a = {object(), boxed(1, name())}; break;
      case H::setattr: a = {object(), boxed(1, name()), arg()}; break;
      case H::call: a = {object(), call_args(), kwargs()}; break;
      case H::callattr: a = {object(), boxed(1, name()), call_args(), kwargs()}; break;
      case H::cmp: a = {object(), arg(), boxed(1, name())}; break;
      case H::buffiter: a = {object(), boxed(1, static_cast<std::int64_t>(in_.u8()) - 1)}; break;
      case H::ctxexit: a = {object(), arg()}; break;
      case H::hello: a = {boxed(1, Bytes{"netref"}), boxed(1, std::int64_t{1}), boxed(1, Tuple{})}; break;
      case H::callchain:
      case H::getchain: {
        Tuple names;
        for (std::size_t n = in_.below(4); n > 0; --n) names.items.push_back(name());
        a = {object(), boxed(1, Value(std::move(names)))};
        if (h == H::callchain) {
          a.push_back(call_args());
          a.push_back(kwargs());
        }
        break;
      }
      default: a = {object()}; break;
    }
    const std::uint8_t mutate = in_.u8();
    if (mutate >= 0xf0) a.resize(mutate & 7);  // too few or too many arguments
    Tuple boxed_items;
    boxed_items.items = std::move(a);
    return boxed(2, Value(std::move(boxed_items)));
  }

  Value request_body(std::int64_t handler, Value args) { return netref::tuple_of(handler, std::move(args)); }

  // An RPyC message in this run's generation.
  std::vector<std::uint8_t> message(std::int64_t type, std::uint32_t seq, Value body) {
    if (generation_ == netref::Generation::v5) {
      return netref::brine::encode(netref::tuple_of(type, static_cast<std::int64_t>(seq), std::move(body)));
    }
    std::vector<std::uint8_t> out = {static_cast<std::uint8_t>(type)};
    netref::brine::encode(netref::tuple_of(static_cast<std::int64_t>(seq), std::move(body)), out);
    return out;
  }

  std::uint32_t seq() {
    const std::uint8_t b = in_.u8();
    return b == 0xff ? in_.u32() : b;
  }

 private:
  Input& in_;
  netref::Generation generation_;
};

void frame_into(std::vector<std::uint8_t>& out, std::span<const std::uint8_t> payload, std::uint8_t flag) {
  const auto n = static_cast<std::uint32_t>(payload.size());
  out.insert(out.end(), {static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
                         static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n), flag});
  out.insert(out.end(), payload.begin(), payload.end());
  out.push_back('\n');
}

std::vector<std::uint8_t> compress(std::span<const std::uint8_t> payload) {
  uLongf size = compressBound(static_cast<uLong>(payload.size()));
  std::vector<std::uint8_t> out(size);
  if (compress2(out.data(), &size, payload.data(), static_cast<uLong>(payload.size()), 1) != Z_OK) return {};
  out.resize(size);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading what the server wrote

// Checks each whole frame the server wrote since last time; collects the object ids it lent.
class OutputChecker {
 public:
  OutputChecker(const netref::Connection& server) : server_(server) {}

  void check(std::vector<std::uint8_t>& written) {
    while (written.size() - at_ >= 5) {
      const std::uint8_t* h = written.data() + at_;
      const std::uint32_t length = std::uint32_t{h[0]} << 24 | std::uint32_t{h[1]} << 16 | std::uint32_t{h[2]} << 8 | h[3];
      if (written.size() - at_ < 5 + std::size_t{length} + 1) return;  // the rest comes later
      NETREF_FUZZ_CHECK(h[4] <= 1, "the server wrote flag " + std::to_string(h[4]));
      NETREF_FUZZ_CHECK(h[5 + length] == '\n', "a frame the server wrote has no '\\n'");
      std::vector<std::uint8_t> payload(h + 5, h + 5 + length);
      if (h[4] == 1) {
        // Replies are at most max_frame_bytes (1 MiB) before compression; deflate expands
        // at most 1032:1, so most frames need far less room than that.
        std::vector<std::uint8_t> inflated(std::min<std::size_t>(1u << 20, payload.size() * 1032 + 1024));
        uLongf size = static_cast<uLongf>(inflated.size());
        NETREF_FUZZ_CHECK(uncompress(inflated.data(), &size, payload.data(), static_cast<uLong>(payload.size())) == Z_OK,
                          "a compressed frame the server wrote does not inflate");
        inflated.resize(size);
        payload.swap(inflated);
      }
      message(payload);
      at_ += 5 + std::size_t{length} + 1;
    }
  }

  std::size_t ids_lent() const noexcept { return ids_.size(); }

 private:
  void message(const std::vector<std::uint8_t>& payload) {
    NETREF_FUZZ_CHECK(!payload.empty(), "the server wrote an empty message");
    Value v;
    try {
      // Deeper than the server accepts: it may echo a value as deep as it takes, boxed.
      v = netref::brine::decode(server_.generation() == netref::Generation::v5
                                    ? std::span<const std::uint8_t>(payload)
                                    : std::span<const std::uint8_t>(payload).subspan(1),
                                netref::brine::Limits{.max_depth = 1024});
    } catch (const netref::ProtocolError& e) {
      NETREF_FUZZ_CHECK(false, std::string("the server wrote a message that is not brine: ") + e.what());
    }
    const auto* t = v.get_if<Tuple>();
    std::int64_t type = payload[0];
    Value body;
    if (server_.generation() == netref::Generation::v5) {
      NETREF_FUZZ_CHECK(t && t->items.size() == 3 && t->items[0].get_if<std::int64_t>(), "a v5 message is not (msg, seq, body)");
      type = *t->items[0].get_if<std::int64_t>();
      body = t->items[2];
    } else {
      NETREF_FUZZ_CHECK(t && t->items.size() == 2, "a v6 message is not msg byte + (seq, body)");
      body = t->items[1];
    }
    if (netref::fuzz::trace()) std::fprintf(stderr, "  server wrote %s\n", v.debug_string(300).c_str());
    NETREF_FUZZ_CHECK(type >= 1 && type <= 3, "the server wrote message type " + std::to_string(type));
    if (type == 1) {  // the server's own request (a callback, DEL): (handler, boxed args)
      const auto* request = body.get_if<Tuple>();
      NETREF_FUZZ_CHECK(request && request->items.size() == 2, "a request the server wrote is not (handler, args)");
      boxed_value(request->items[1], 0);
    }
    if (type == 2) boxed_value(body, 0);
    if (type == 3) {
      NETREF_FUZZ_CHECK(is_vinegar(body), "the server wrote an exception that is not vinegar: " + body.debug_string(200));
    }
  }

  // RPyC's vinegar: ((module, class), args, ((name, value), ...), traceback), or the int 1
  // for StopIteration.
  static bool is_vinegar(const Value& v) {
    if (const auto* i = v.get_if<std::int64_t>()) return *i == netref::exc_stop_iteration;
    const auto* t = v.get_if<Tuple>();
    if (!t || t->items.size() != 4) return false;
    const auto* names = t->items[0].get_if<Tuple>();
    const auto* attrs = t->items[2].get_if<Tuple>();
    if (!names || names->items.size() != 2 || !names->items[0].get_if<std::string>() ||
        !names->items[1].get_if<std::string>() || !t->items[1].get_if<Tuple>() || !attrs ||
        !t->items[3].get_if<std::string>()) {
      return false;
    }
    for (const auto& attr : attrs->items) {
      const auto* pair = attr.get_if<Tuple>();
      if (!pair || pair->items.size() != 2 || !pair->items[0].get_if<std::string>()) return false;
    }
    return true;
  }

  // A reply's boxed value: labels 1..4; remember what the server lent (label 4).
  void boxed_value(const Value& v, std::size_t depth) {
    const auto* t = v.get_if<Tuple>();
    NETREF_FUZZ_CHECK(t && t->items.size() == 2 && t->items[0].get_if<std::int64_t>(), "a reply is not a (label, value) pair");
    const std::int64_t label = *t->items[0].get_if<std::int64_t>();
    NETREF_FUZZ_CHECK(label >= 1 && label <= 4, "a reply has boxing label " + std::to_string(label));
    if (label == 2) {
      const auto* items = t->items[1].get_if<Tuple>();
      NETREF_FUZZ_CHECK(items != nullptr, "LABEL_TUPLE without a tuple");
      for (const auto& item : items->items) boxed_value(item, depth + 1);
    }
    if (label == 4) {
      const auto* id = t->items[1].get_if<Tuple>();
      NETREF_FUZZ_CHECK(id && id->items.size() == 3 && id->items[2].get_if<std::int64_t>(), "a lent object's id_pack is malformed");
      ids_.insert(*id->items[2].get_if<std::int64_t>());
    }
  }

  const netref::Connection& server_;
  std::size_t at_ = 0;
  std::set<std::int64_t> ids_;
};

// ---------------------------------------------------------------------------------------------
// The session

struct Session {
  ScriptedStream* stream = nullptr;
  std::shared_ptr<netref::Connection> server;
  bool use_serve_available = false;
  std::unique_ptr<OutputChecker> output;

  // Serves until the server has nothing whole to read, then checks what it wrote.
  void serve_until_idle() {
    for (int turn = 0; turn < 100000 && !server->closed(); ++turn) {
      try {
        if (use_serve_available) {
          const auto status = netref::detail::ConnectionAccess::serve_available(*server, 1 + static_cast<std::size_t>(turn % 3));
          if (status != netref::ServeStatus::more) break;
        } else if (!server->poll()) {
          break;
        }
      } catch (const netref::Error&) {
        NETREF_FUZZ_CHECK(server->closed(), "serve() threw while the connection stays open");
        break;
      } catch (const std::exception& e) {
        NETREF_FUZZ_CHECK(false, std::string("serve() threw a non-netref exception: ") + e.what());
      }
    }
    NETREF_FUZZ_CHECK(netref::Connection::current() == nullptr, "Connection::current() outlived the handler");
    output->check(stream->written());
    const auto stats = server->stats();
    NETREF_FUZZ_CHECK(stats.running_handlers == 0, "a handler counts as running after serving returned");
    if (!server->closed()) {
      NETREF_FUZZ_CHECK(stats.pending_requests == 0, "a request of the server is pending after serving returned");
      NETREF_FUZZ_CHECK(stats.lent_objects <= output->ids_lent(),
                        std::to_string(stats.lent_objects) + " objects lent, but only " + std::to_string(output->ids_lent()) +
                            " ids were sent");
      NETREF_FUZZ_CHECK(stats.lent_objects <= server->config().max_lent_objects, "max_lent_objects exceeded");
      NETREF_FUZZ_CHECK(stats.pipelined_waiting == 0, "a pipelined call waits after serving returned");
      NETREF_FUZZ_CHECK(stats.pipelined_results <= server->config().max_pipelined_results, "max_pipelined_results exceeded");
    }
  }
};

void check_close_reason(const netref::Connection& server) {
  const auto reason = server.close_error();
  if (!reason) return;
  try {
    std::rethrow_exception(reason);
  } catch (const netref::Error&) {
  } catch (const std::exception& e) {
    NETREF_FUZZ_CHECK(false, std::string("the connection closed for a non-netref exception: ") + e.what());
  } catch (...) {
    NETREF_FUZZ_CHECK(false, "the connection closed for a non-exception");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  const std::uint8_t c0 = in.u8();
  const std::uint8_t c1 = in.u8();
  const netref::Service& service = test_service();

  netref::ConnectionConfig cfg;
  cfg.detect_generation = true;
  cfg.enable_extensions = (c0 & 1) == 0;
  cfg.max_lent_objects = (c0 & 2) ? 2 : 100000;
  cfg.max_callback_depth = (c0 & 4) ? 1 : 32;
  cfg.max_depth = (c0 & 8) ? 4 : 64;
  cfg.max_pings_per_second = 0;
  cfg.max_pipelined_results = (c1 & 8) ? 2 : 4096;  // the ping cap reads the clock, and a run must replay alike
  if (c0 & 0x40) {
    cfg.interceptor = [](const netref::RequestInfo& request) {
      if (request.attribute == "fail" || request.attribute == "value") {
        throw netref::RemoteError("PermissionError", "denied: " + std::string(request.attribute));
      }
    };
  }
  netref::ChannelConfig channel_cfg;
  channel_cfg.max_frame_bytes = (c1 & 1) ? 4096 : 1u << 20;
  channel_cfg.max_inflated_bytes = (c1 & 2) ? 4096 : 1u << 20;
  channel_cfg.compression_threshold = (c1 & 4) ? 16 : 3000;
  const auto generation = (c0 & 0x10) ? netref::Generation::v6 : netref::Generation::v5;

  const std::int64_t widgets_before = widgets_alive;
  std::weak_ptr<netref::Connection> weak;
  {
    auto owned = std::make_unique<ScriptedStream>(ScriptedStream::End::idle);
    Session session;
    session.stream = owned.get();
    session.use_serve_available = (c0 & 0x20) != 0;
    session.server = netref::Connection::create(std::make_unique<netref::Channel>(std::move(owned), channel_cfg),
                                                service.root_object(), cfg);
    session.output = std::make_unique<OutputChecker>(*session.server);
    weak = session.server;

    Builder build(in, generation);
    std::vector<std::uint8_t> pending;  // written by the ops, delivered at the next serve
    auto deliver = [&] {
      session.stream->add_chunk(pending);
      pending.clear();
      session.serve_until_idle();
    };
    for (std::size_t ops = 0; !in.empty() && ops < 64; ++ops) {
      const std::uint8_t op = in.u8();
      if (netref::fuzz::trace()) std::fprintf(stderr, "op %u\n", op % op_count);
      switch (op % op_count) {
        case op_raw_frame: frame_into(pending, in.bytes(in.u8()), 0); break;
        case op_raw_bytes: {
          auto bytes = in.bytes(in.u8() % 16);
          pending.insert(pending.end(), bytes.begin(), bytes.end());
          break;
        }
        case op_request:
        case op_compressed: {
          const std::uint32_t seq = build.seq();
          const std::uint8_t which = in.u8();
          Value body;
          if (which >= 0xf0) {
            body = build.request_body(kOddHandlers[which & 7], build.args_for(netref::Handler::ping));
          } else {
            const auto handler = kHandlers[which % std::size(kHandlers)];
            body = build.request_body(static_cast<std::int64_t>(handler), build.args_for(handler));
          }
          const auto msg = build.message(1, seq, std::move(body));
          if (op % op_count == op_compressed) {
            frame_into(pending, compress(msg), 1);
          } else {
            frame_into(pending, msg, 0);
          }
          break;
        }
        case op_callattr: {
          const std::uint32_t seq = build.seq();
          frame_into(pending,
                     build.message(1, seq, build.request_body(static_cast<std::int64_t>(netref::Handler::callattr),
                                                              build.args_for(netref::Handler::callattr))),
                     0);
          break;
        }
        case op_getroot:
          frame_into(pending,
                     build.message(1, build.seq(), build.request_body(3, build.args_for(netref::Handler::getroot))), 0);
          break;
        case op_reply: {
          const std::uint32_t seq = build.seq();
          frame_into(pending, build.message(2, seq, build.arg()), 0);
          break;
        }
        case op_exception: {
          const std::uint32_t seq = build.seq();
          Value vinegar = netref::tuple_of(netref::tuple_of("builtins", std::string(kTypeNames[in.below(4)])),
                                           Tuple{{build.plain()}}, Tuple{}, "Traceback: fuzz\n");
          if (in.u8() & 1) vinegar = build.plain();
          frame_into(pending, build.message(3, seq, std::move(vinegar)), 0);
          break;
        }
        case op_del: {
          const std::uint32_t seq = build.seq();
          Value count = Builder::boxed(1, static_cast<std::int64_t>(in.u8()) - 1);
          Value args = Builder::boxed(2, netref::tuple_of(Builder::boxed(3, build.id_pack()), std::move(count)));
          frame_into(pending, build.message(1, seq, build.request_body(15, std::move(args))), 0);
          break;
        }
        case op_del_batch: {
          const std::uint32_t seq = build.seq();
          Tuple entries;
          for (std::size_t n = in.below(4); n > 0; --n) {
            entries.items.push_back(netref::tuple_of(build.id_pack(), static_cast<std::int64_t>(in.u8()) - 1));
          }
          frame_into(pending, build.message(1, seq, build.request_body(67, Builder::boxed(1, Value(std::move(entries))))), 0);
          break;
        }
        case op_pipelined: {
          constexpr netref::Handler kKept[] = {netref::Handler::call, netref::Handler::callattr,
                                               netref::Handler::callchain, netref::Handler::getattr,
                                               netref::Handler::getchain};
          const std::uint32_t seq = build.seq();
          const std::uint8_t how = in.u8();
          const auto handler = kKept[how % std::size(kKept)];
          Value args = build.args_for(handler);
          if (how & 0x10) {  // the target: the result of one of our requests, or a forged one
            Value target;
            switch ((how >> 5) & 7) {
              case 0: target = Value(static_cast<std::int64_t>(-1)); break;
              case 1: target = Value(std::int64_t{1} << 32); break;
              case 2: target = Value(netref::BigInt{"18446744073709551621"}); break;
              case 3: target = Value(std::string("seq")); break;
              default: target = Value(static_cast<std::int64_t>(build.seq())); break;
            }
            auto* boxed = args.get_if<Tuple>();
            auto* items = boxed != nullptr ? boxed->items[1].get_if<Tuple>() : nullptr;
            if (items != nullptr && !items->items.empty()) items->items[0] = Builder::boxed(5, std::move(target));
          }
          const std::int64_t number = static_cast<std::int64_t>(handler) + ((how & 8) ? 0 : 0x100);
          frame_into(pending, build.message(1, seq, build.request_body(number, std::move(args))), 0);
          break;
        }
        case op_release: {
          Tuple seqs;
          for (std::size_t n = in.below(4); n > 0; --n) seqs.items.emplace_back(static_cast<std::int64_t>(build.seq()));
          if (in.u8() == 0xff) seqs.items.emplace_back(std::string("not a seq"));
          frame_into(pending, build.message(1, build.seq(), build.request_body(70, Builder::boxed(1, Value(std::move(seqs))))), 0);
          break;
        }
        case op_close:
          frame_into(pending, build.message(1, build.seq(), build.request_body(2, Builder::boxed(1, Tuple{}))), 0);
          break;
        default:
          deliver();
          break;
      }
    }
    deliver();
    if (netref::fuzz::trace() && session.server->closed()) {
      try {
        std::rethrow_exception(session.server->close_error());
      } catch (const std::exception& e) {
        std::fprintf(stderr, "  server closed: %s\n", e.what());
      }
    }
    check_close_reason(*session.server);

    session.server->close();
    const auto stats = session.server->stats();
    NETREF_FUZZ_CHECK(stats.lent_objects == 0, "objects still lent after close");
    NETREF_FUZZ_CHECK(stats.pending_requests == 0, "requests still pending after close");
    NETREF_FUZZ_CHECK(stats.netrefs_held == 0, "netrefs still held after close");
    NETREF_FUZZ_CHECK(stats.running_handlers == 0, "handlers still running after close");
    NETREF_FUZZ_CHECK(stats.pipelined_results == 0 && stats.pipelined_waiting == 0, "pipelined results kept after close");
  }
  NETREF_FUZZ_CHECK(weak.expired(), "the connection outlived its last handle (a reference cycle)");
  NETREF_FUZZ_CHECK(widgets_alive == widgets_before, std::to_string(widgets_alive - widgets_before) + " widgets leaked");
  return 0;
}
