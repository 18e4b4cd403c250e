// The registry's messages against the bytes rpyc's brine.dump writes for the same tuples
// (rpyc 5.3 and 6.0.1 agree), and what a registry does with bytes that are not a request.
#include <doctest/doctest.h>

#include <string>

#include "netref/discovery/detail/registry_wire.hpp"
#include "netref/protocol/brine.hpp"

using namespace netref;
using namespace netref::detail;

namespace {

std::string hex(const WireBytes& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (auto b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

WireBytes from_hex(const std::string& text) {
  WireBytes out;
  for (std::size_t i = 0; i + 1 < text.size(); i += 2) out.push_back(static_cast<std::uint8_t>(std::stoi(text.substr(i, 2), nullptr, 16)));
  return out;
}

}  // namespace

TEST_CASE("each request is the brine tuple rpyc sends, byte for byte") {
  CHECK(hex(encode_register_request({"FOO", "bar"}, 18861)) ==
        "12080d52505943080e0852454749535445521111080c464f4f080c62617216053138383631");
  CHECK(hex(encode_unregister_request(18861)) == "12080d52505943080e0a554e52454749535445521016053138383631");
  CHECK(hex(encode_query_request("foo")) == "12080d52505943080e05515545525910080c666f6f");
  CHECK(hex(encode_list_request(std::nullopt)) == "12080d52505943080d4c495354101000");
  CHECK(hex(encode_list_request("127.0.0.1")) == "12080d52505943080d4c4953541010080e093132372e302e302e31");
}

TEST_CASE("each reply is what rpyc's registry sends, and decodes back") {
  CHECK(hex(encode_ok_reply()) == "080b4f4b");
  CHECK(hex(encode_none_reply()) == "00");
  const WireBytes query = encode_query_reply({{"127.0.0.1", 18861}}, 1500);
  CHECK(hex(query) == "1011080e093132372e302e302e3116053138383631");
  CHECK(decode_query_reply(query, "test") == std::vector<ServiceAddress>{{"127.0.0.1", 18861}});
  const WireBytes list = encode_list_reply({"BAR", "FOO"}, 1500);
  CHECK(hex(list) == "11080c424152080c464f4f");
  CHECK(decode_list_reply(list, "test") == std::vector<std::string>{"BAR", "FOO"});
  CHECK_FALSE(decode_list_reply(encode_none_reply(), "test").has_value());
  CHECK(is_ok_reply(encode_ok_reply()));
  CHECK_FALSE(is_ok_reply(encode_none_reply()));
}

TEST_CASE("a registry parses rpyc's requests, in any case of the command") {
  auto req = parse_registry_request(from_hex("12080d52505943080e0852454749535445521111080c464f4f080c62617216053138383631"));
  REQUIRE(req);
  CHECK(req->command == RegistryCommand::register_service);
  CHECK(req->names == std::vector<std::string>{"FOO", "bar"});
  CHECK(req->port == 18861);
  req = parse_registry_request(brine::encode(tuple_of("RPYC", "query", tuple_of("foo"))));
  REQUIRE(req);
  CHECK(req->command == RegistryCommand::query);
  req = parse_registry_request(encode_list_request("127.0.0.1"));
  REQUIRE(req);
  CHECK(req->filter_host == "127.0.0.1");
  req = parse_registry_request(encode_list_request(std::nullopt));
  REQUIRE(req);
  CHECK_FALSE(req->filter_host);
}

TEST_CASE("bytes that are not a registry request are refused, never thrown at the registry") {
  const std::vector<WireBytes> garbage = {
      {},
      {0xff, 0xfe, 0xfd},
      from_hex("12080d52505943080e05515545525910"),  // truncated QUERY
      brine::encode(tuple_of("RPYD", "QUERY", tuple_of("foo"))),
      brine::encode(tuple_of("RPYC", "DELETE", tuple_of("foo"))),
      brine::encode(tuple_of("RPYC", "QUERY", tuple_of(std::int64_t{1}))),
      brine::encode(tuple_of("RPYC", "QUERY", tuple_of("a", "b"))),
      brine::encode(tuple_of("RPYC", "REGISTER", tuple_of(tuple_of("FOO"), std::int64_t{70000}))),
      brine::encode(tuple_of("RPYC", "REGISTER", tuple_of(tuple_of(std::int64_t{5}), std::int64_t{80}))),
      brine::encode(tuple_of("RPYC", "REGISTER", tuple_of("FOO", std::int64_t{80}))),
      brine::encode(tuple_of("RPYC", "UNREGISTER", tuple_of(std::int64_t{0}))),
      brine::encode(tuple_of("RPYC", "LIST", tuple_of("127.0.0.1"))),
      brine::encode(Value("RPYC")),
  };
  for (const auto& bytes : garbage) {
    INFO(hex(bytes));
    CHECK_FALSE(parse_registry_request(bytes));
  }
}

TEST_CASE("a reply of the wrong shape is a RegistryReplyError naming what came") {
  CHECK_THROWS_AS(decode_query_reply(WireBytes{0xff}, "udp://127.0.0.1:1"), RegistryReplyError);
  CHECK_THROWS_WITH_AS(decode_query_reply(encode_ok_reply(), "udp://127.0.0.1:1"),
                       doctest::Contains("answered 'OK'"), RegistryReplyError);
  CHECK_THROWS_AS(decode_query_reply(brine::encode(tuple_of(tuple_of("h", std::int64_t{0}))), "x"), RegistryReplyError);
  CHECK_THROWS_AS(decode_list_reply(brine::encode(tuple_of(std::int64_t{1})), "x"), RegistryReplyError);
}

TEST_CASE("a QUERY reply too long for rpyc's 1500-byte read keeps the newest servers") {
  std::vector<ServiceAddress> servers;
  for (int i = 0; i < 200; ++i) servers.push_back({"10.0.0." + std::to_string(i % 250), static_cast<std::uint16_t>(1000 + i)});
  const WireBytes reply = encode_query_reply(servers, 1500);
  CHECK(reply.size() <= 1500);
  const auto kept = decode_query_reply(reply, "test");
  REQUIRE(kept.size() > 10);
  CHECK(kept.size() < servers.size());
  CHECK(kept.back() == servers.back());
  CHECK(kept.front() == servers[servers.size() - kept.size()]);
}

TEST_CASE("registry names are upper-cased in ASCII only") {
  CHECK(registry_name("calc_Service-2") == "CALC_SERVICE-2");
  CHECK(registry_name("caf\xc3\xa9") == "CAF\xc3\xa9");
}
