// The message builders against the bytes rpyc itself sends for the same messages: rpyc 5.3
// (Debian's) and rpyc 6.0.1, recorded once by tests/data/wire/make_goldens.py into
// tests/data/wire/golden_v{5,6}.txt, so this test runs without Python.
#include <doctest/doctest.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "netref/protocol/brine.hpp"
#include "netref/stream/error.hpp"
#include "wire/messages.hpp"

using namespace netref;
namespace wire = netref::detail::wire;
using Buf = std::vector<std::uint8_t>;

namespace {

std::string hex(const Buf& bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (auto b : bytes) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 0xF]);
  }
  return out;
}

/// name -> hex, from a golden file the script wrote.
std::map<std::string, std::string> goldens(Generation g) {
  const std::string path = std::string(NETREF_TEST_DATA_DIR) + "/wire/golden_v" +
                           (g == Generation::v5 ? "5" : "6") + ".txt";
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "missing golden file ", path);
  std::map<std::string, std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string name, bytes;
    fields >> name >> bytes;
    out[name] = bytes;
  }
  return out;
}

const IdPack small_id{"builtins.list", 123, 140000000000};
const IdPack big_id{"Counter", (std::uint64_t{1} << 63) + 5, ~std::uint64_t{0}};

/// Every builder, as the golden files name them.
std::map<std::string, Buf> built(Generation g) {
  std::map<std::string, Buf> out;
  auto make = [&](const char* name, auto build) { build(out[name]); };
  make("getroot_seq0", [&](Buf& b) { wire::encode_getroot(g, 0, b); });
  make("getroot_seq300", [&](Buf& b) { wire::encode_getroot(g, 300, b); });
  make("ping_seq5", [&](Buf& b) { wire::encode_ping(g, 5, "hi", b); });
  make("close_seq7", [&](Buf& b) { wire::encode_close(g, 7, b); });
  make("hello_seq1", [&](Buf& b) { wire::encode_hello(g, 1, b); });
  make("del_seq9", [&](Buf& b) { wire::encode_del(g, 9, small_id, 2, b); });
  make("del_seq70000_big_ids", [&](Buf& b) { wire::encode_del(g, 70000, big_id, 1, b); });
  make("del_batch_seq11", [&](Buf& b) {
    const std::vector<std::pair<IdPack, std::uint64_t>> batch = {{small_id, 2}, {big_id, 1}};
    wire::encode_del_batch(g, 11, batch, b);
  });
  make("release_results_seq13", [&](Buf& b) {
    const std::uint32_t seqs[] = {5, 9, 70000};
    wire::encode_release_results(g, 13, seqs, b);
  });
  make("call_seq12", [&](Buf& b) {
    // The head, then the arguments as detail::ConnectionImpl::box_args writes them.
    wire::encode_request_head(g, 12, Handler::call, b);
    wire::put_label(Label::tuple, b);
    wire::put_tuple_header(3, b);
    wire::put_label(Label::local_ref, b);
    wire::encode_id_pack(small_id, b);
    wire::put_label(Label::value, b);
    brine::encode(tuple_of(1, std::string("x")), b);
    wire::put_label(Label::value, b);
    wire::put_tuple_header(0, b);
  });
  make("deadline_seq13_call", [&](Buf& b) {
    // The DEADLINE head, then the inner CALL's arguments as box_args writes them.
    wire::encode_deadline_head(g, 13, 1500, static_cast<std::int64_t>(Handler::call), b);
    wire::put_label(Label::tuple, b);
    wire::put_tuple_header(3, b);
    wire::put_label(Label::local_ref, b);
    wire::encode_id_pack(small_id, b);
    wire::put_label(Label::value, b);
    brine::encode(tuple_of(1, std::string("x")), b);
    wire::put_label(Label::value, b);
    wire::put_tuple_header(0, b);
  });
  make("cancel_seq14", [&](Buf& b) { wire::encode_cancel(g, 14, 12, b); });
  make("reply_seq3_int", [&](Buf& b) {
    wire::encode_reply_head(g, 3, b);
    wire::put_label(Label::value, b);
    wire::put_int(42, b);
  });
  make("reply_seq200_none", [&](Buf& b) {
    wire::encode_reply_head(g, 200, b);
    wire::put_label(Label::value, b);
    brine::encode(Value(), b);
  });
  make("exception_seq4", [&](Buf& b) {
    wire::encode_exception_head(g, 4, b);
    brine::encode(tuple_of(tuple_of(std::string("builtins"), std::string("ValueError")),
                           tuple_of(std::string("bad")), Tuple{}, std::string("Traceback: bad\n")),
                  b);
  });
  make("stop_iteration_seq6", [&](Buf& b) {
    wire::encode_exception_head(g, 6, b);
    wire::put_int(exc_stop_iteration, b);
  });
  return out;
}

void check_against_goldens(Generation g) {
  const auto expected = goldens(g);
  const auto ours = built(g);
  CHECK(expected.size() == ours.size());
  for (const auto& [name, bytes] : ours) {
    CAPTURE(name);
    auto found = expected.find(name);
    REQUIRE_MESSAGE(found != expected.end(), "no golden named ", name);
    CHECK(hex(bytes) == found->second);
  }
}

}  // namespace

TEST_CASE("every message builder writes rpyc 5.3's bytes") { check_against_goldens(Generation::v5); }

TEST_CASE("every message builder writes rpyc 6.0.1's bytes") { check_against_goldens(Generation::v6); }

TEST_CASE("GETROOT with seq 0 is the known golden in both generations") {
  Buf v5, v6;
  wire::encode_getroot(Generation::v5, 0, v5);
  wire::encode_getroot(Generation::v6, 0, v6);
  CHECK(v5 == Buf{0x12, 0x51, 0x50, 0x11, 0x53, 0x11, 0x51, 0x02});
  CHECK(v6 == Buf{0x01, 0x11, 0x50, 0x11, 0x53, 0x11, 0x51, 0x02});
}

TEST_CASE("a builder appends to what the buffer holds") {
  Buf b = {0xAA};
  wire::encode_close(Generation::v6, 7, b);
  CHECK(hex(b) == "aa0111571152115102");
}

TEST_CASE("an id_pack whose type name is not UTF-8 is refused") {
  Buf id;
  CHECK_THROWS_WITH_AS(wire::encode_id_pack(IdPack{std::string("\xff"), 1, 2}, id),
                       doctest::Contains("invalid UTF-8"), ProtocolError);
}
