// Pipelining's bad input against real servers (docs/PIPELINING.md): forged promises from a raw
// peer get error replies, the connection stays, a canary client is served throughout; a
// malformed RELEASE_RESULTS closes only its own connection.
#include <doctest/doctest.h>

#include "fault/fault.hpp"

using namespace netref;
using namespace netref::test;
using wire::ByteVec;

namespace {

/// CALLATTR target.name(x), handler number as given (264: kept).
ByteVec callattr(std::uint32_t seq, std::int64_t handler, Value target, const std::string& name, std::int64_t x) {
  return wire::request(seq, handler, {std::move(target), wire::boxed(name), wire::boxed(tuple_of(x)), wire::boxed(Tuple{})});
}

void expect_error(RawPeer& peer, std::uint32_t seq, Value target, const std::string& cls, const std::string& needle) {
  CAPTURE(seq);
  peer.send_frame(callattr(seq, 8, std::move(target), "add", 1));
  auto m = peer.read_reply_to(seq);
  REQUIRE(m.type == MsgType::exception);
  CHECK(m.error().class_name == cls);
  CHECK(m.error().message().find(needle) != std::string::npos);
}

}  // namespace

TEST_CASE_TEMPLATE("forged pipelined references get error replies, the connection stays, a canary is served", Server,
                   ThreadPoolServer, ThreadedServer) {
  Served<Server> s;
  auto peer = RawPeer::tcp(s.port());
  const IdPack root = root_of(peer, 0);
  // A kept make_counter(5) (CALLATTR 8 + 0x100), then add(2) on its result: 7.
  peer.send_frame(callattr(1, 264, wire::local_ref(root), "make_counter", 5));
  CHECK(peer.read_reply_to(1).type == MsgType::reply);
  peer.send_frame(callattr(2, 8, tuple_of(5, 1), "add", 2));
  auto added = peer.read_reply_to(2);
  REQUIRE(added.type == MsgType::reply);
  CHECK(added.boxed_item() == Value(std::int64_t{7}));
  // Never sent, then released (RELEASE_RESULTS 70 is one-way), out of range both ways.
  expect_error(peer, 3, tuple_of(5, 999), "ReferenceError", "no pipelined result of request 999");
  peer.send_frame(wire::request(4, 70, {wire::boxed(std::int64_t{1})}));
  expect_error(peer, 5, tuple_of(5, 1), "ReferenceError", "no pipelined result of request 1 ");
  expect_error(peer, 6, tuple_of(5, std::int64_t{1} << 40), "ValueError", "out of range");
  expect_error(peer, 7, tuple_of(5, -3), "ValueError", "out of range");
  peer.send_frame(wire::request(8, Handler::ping, {wire::boxed(Value("alive"))}));
  CHECK(peer.read_reply_to(8).boxed_item() == Value("alive"));
  s.check_canary();
}

TEST_CASE_TEMPLATE("a malformed RELEASE_RESULTS closes its own connection only", Server, ThreadPoolServer, ThreadedServer) {
  Served<Server> s;
  auto peer = RawPeer::tcp(s.port());
  root_of(peer, 0);
  peer.send_frame(wire::request(1, 70, {wire::boxed(Value("not a seq"))}));
  CHECK(s.watch.wait_reason("RELEASE_RESULTS"));
  const Client client = netref::connect("127.0.0.1", s.port());
  CHECK(client->root()->attr("add")->call(1, 2).as<std::int64_t>() == 3);
  s.check_canary();
}
