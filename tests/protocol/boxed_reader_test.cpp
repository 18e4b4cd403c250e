// BoxedReader, the fast way in, against the general one (brine::decode, then unboxing):
// whatever the fast reader accepts, the general path reads the same; whatever the general
// path refuses, the fast reader refuses too. A white-box test of a detail class.
#include "boxed_reader.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "netref/protocol/brine.hpp"
#include "netref/stream/error.hpp"

using namespace netref;
using Buf = std::vector<std::uint8_t>;

namespace {

constexpr std::size_t kMaxDepth = 64;

// What a reference reads as in these tests: ("ref", label, (type name, type id, object id)).
Value ref_marker(std::int64_t label, Value id_pack) {
  return Value(Tuple{{Value(std::string("ref")), Value(label), std::move(id_pack)}});
}

// The general path: brine::decode, then unboxing the (label, payload) pairs.
Value unbox_generally(Value boxed) {
  auto* pair = boxed.get_if<Tuple>();
  if (pair == nullptr || pair->items.size() != 2) throw ProtocolError("not a boxed pair");
  auto* label = pair->items[0].get_if<std::int64_t>();
  if (label == nullptr) throw ProtocolError("label is not an int");
  switch (*label) {
    case 1:
      return std::move(pair->items[1]);
    case 2: {
      auto* items = pair->items[1].get_if<Tuple>();
      if (items == nullptr) throw ProtocolError("LABEL_TUPLE without a tuple");
      for (auto& item : items->items) item = unbox_generally(std::move(item));
      return std::move(pair->items[1]);
    }
    case 3:
    case 4: {
      auto* id = pair->items[1].get_if<Tuple>();
      if (id == nullptr || id->items.size() != 3) throw ProtocolError("bad id_pack");
      return ref_marker(*label, std::move(pair->items[1]));
    }
    default:
      throw ProtocolError("bad label");
  }
}

std::optional<Value> read_generally(const Buf& bytes) {
  try {
    brine::Limits limits;
    limits.max_depth = kMaxDepth;
    return unbox_generally(brine::decode(bytes, limits));
  } catch (const ProtocolError&) {
    return std::nullopt;
  }
}

// The fast path, its references filled in with the same markers.
std::optional<Value> read_fast(const Buf& bytes) {
  detail::BoxedReader reader(bytes, kMaxDepth);
  Value out;
  if (!reader.boxed(out) || !reader.at_end()) return std::nullopt;
  for (const auto& ref : reader.refs()) {
    *ref.slot = ref_marker(static_cast<std::int64_t>(ref.label),
                           Value(Tuple{{Value(std::string(ref.type_name)),
                                        Value(static_cast<std::int64_t>(ref.type_id)),
                                        Value(static_cast<std::int64_t>(ref.object_id))}}));
  }
  return out;
}

Value pair(std::int64_t label, Value payload) {
  return Value(Tuple{{Value(label), std::move(payload)}});
}

Value id_pack(std::string name, std::int64_t type_id, std::int64_t object_id) {
  return Value(Tuple{{Value(std::move(name)), Value(type_id), Value(object_id)}});
}

Buf encode(const Value& v) {
  Buf out;
  brine::encode(v, out);
  return out;
}

// Random boxed values: plain values of every common kind, references, nested boxed tuples.
class Generator {
 public:
  explicit Generator(unsigned seed) : rng_(seed) {}

  Value boxed(int depth) {
    switch (pick(depth > 3 ? 3 : 4)) {
      case 0: return pair(1, plain(depth));
      case 1: return pair(3, id_pack("Counter", integer(), std::abs(integer() / 2)));
      case 2: return pair(4, id_pack("BenchService", std::numeric_limits<std::int64_t>::max(), pick(1000)));
      default: {
        Tuple items;
        const int n = pick(6);
        for (int i = 0; i < n; ++i) items.items.push_back(boxed(depth + 1));
        return pair(2, Value(std::move(items)));
      }
    }
  }

 private:
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }

  std::int64_t integer() {
    switch (pick(5)) {
      case 0: return pick(200) - 48;  // the immediate range and around it
      case 1: return std::numeric_limits<std::int64_t>::max();
      case 2: return std::numeric_limits<std::int64_t>::min();
      case 3: return -static_cast<std::int64_t>(rng_() >> 1);
      default: return static_cast<std::int64_t>(rng_() >> pick(63));
    }
  }

  Value plain(int depth) {
    switch (pick(depth > 3 ? 8 : 9)) {
      case 0: return Value();
      case 1: return Value(pick(2) == 1);
      case 2: return Value(integer());
      case 3: return Value(BigInt{"123456789012345678901234567890"});
      case 4: return Value(std::string(static_cast<std::size_t>(pick(300)), 'x'));
      case 5: return Value(Bytes{std::string(static_cast<std::size_t>(pick(20)), '\x01')});
      case 6: return Value(2.5);
      case 7: return Value(std::string("\xc3\xa9t\xc3\xa9"));
      default: {
        Tuple items;
        const int n = pick(5);
        for (int i = 0; i < n; ++i) items.items.push_back(plain(depth + 1));
        return Value(std::move(items));
      }
    }
  }

  std::mt19937_64 rng_;
};

}  // namespace

TEST_CASE("BoxedReader reads what the general path reads, references recorded in wire order") {
  const Value boxed = pair(2, Value(Tuple{{pair(3, id_pack("Counter", 77, 5)), pair(1, Value(std::string("add"))),
                                           pair(1, Value(Tuple{{Value(std::int64_t{20000}), Value(std::int64_t{7})}})),
                                           pair(4, id_pack("Peer", 1, 9)), pair(1, Value(Tuple{}))}}));
  const Buf bytes = encode(boxed);
  detail::BoxedReader reader(bytes, kMaxDepth);
  Value out;
  REQUIRE(reader.boxed(out));
  CHECK(reader.at_end());
  REQUIRE(reader.refs().size() == 2);
  CHECK(reader.refs()[0].label == Label::local_ref);
  CHECK(reader.refs()[0].type_name == "Counter");
  CHECK(reader.refs()[0].type_id == 77);
  CHECK(reader.refs()[0].object_id == 5);
  CHECK(reader.refs()[1].label == Label::remote_ref);
  CHECK(reader.refs()[1].object_id == 9);
  CHECK(read_fast(bytes) == read_generally(bytes));
}

TEST_CASE("BoxedReader agrees with the general path on random boxed values") {
  Generator generate(20261121);
  int read_fast_way = 0;
  for (int i = 0; i < 2000; ++i) {
    const Buf bytes = encode(generate.boxed(0));
    const auto general = read_generally(bytes);
    REQUIRE(general.has_value());
    const auto fast = read_fast(bytes);
    // The fast reader may leave a value to the general path (a negative id), but what it
    // reads must be what the general path reads.
    if (!fast) continue;
    CHECK(*fast == *general);
    ++read_fast_way;
  }
  CHECK(read_fast_way > 1000);  // the fast path did the reading, not the fallback
}

TEST_CASE("BoxedReader accepts no damaged input the general path refuses") {
  Generator generate(7);
  std::mt19937 rng(11);
  int refused_by_both = 0;
  for (int i = 0; i < 3000; ++i) {
    Buf bytes = encode(generate.boxed(0));
    switch (rng() % 3) {
      case 0: bytes.resize(rng() % (bytes.size() + 1)); break;                       // truncated
      case 1: bytes[rng() % bytes.size()] = static_cast<std::uint8_t>(rng()); break;  // a byte flipped
      default: bytes.insert(bytes.begin() + static_cast<long>(rng() % bytes.size()), 0x15); break;
    }
    const auto general = read_generally(bytes);
    const auto fast = read_fast(bytes);
    if (!general) {
      CHECK_FALSE(fast.has_value());
      ++refused_by_both;
    } else if (fast) {
      CHECK(*fast == *general);
    }
  }
  CHECK(refused_by_both > 100);  // the damage did produce bad input
}

TEST_CASE("BoxedReader leaves nesting past the depth limit to the general path") {
  Value boxed = pair(1, Value(std::int64_t{1}));
  for (int i = 0; i < 40; ++i) boxed = pair(2, Value(Tuple{{std::move(boxed)}}));  // 81 levels
  const Buf bytes = encode(boxed);
  CHECK_FALSE(read_generally(bytes).has_value());
  detail::BoxedReader reader(bytes, kMaxDepth);
  Value out;
  CHECK_FALSE(reader.boxed(out));
}

TEST_CASE("BoxedReader reads both envelopes and a request's head") {
  // rpyc 5: (msg, seq, (handler, boxed args))
  const Value args = pair(1, Value(Tuple{{Value(std::int64_t{1}), Value(std::int64_t{2})}}));
  const Buf v5 = encode(Value(Tuple{{Value(std::int64_t{1}), Value(std::int64_t{300}),
                                     Value(Tuple{{Value(std::int64_t{8}), args}})}}));
  detail::BoxedReader five(v5, kMaxDepth);
  MsgType type{};
  std::uint32_t seq = 0;
  std::int64_t handler = 0;
  Args read;
  REQUIRE(five.envelope(Generation::v5, type, seq));
  CHECK(type == MsgType::request);
  CHECK(seq == 300);
  REQUIRE(five.request_head(handler));
  CHECK(handler == 8);
  REQUIRE(five.boxed_args(read));
  CHECK(five.at_end());
  CHECK(read == Args{Value(std::int64_t{1}), Value(std::int64_t{2})});

  // rpyc 6: a raw msg byte, then (seq, body)
  Buf v6{2};
  const Buf rest = encode(Value(Tuple{{Value(std::int64_t{4000000000}), pair(1, Value(std::string("x")))}}));
  v6.insert(v6.end(), rest.begin(), rest.end());
  detail::BoxedReader six(v6, kMaxDepth);
  REQUIRE(six.envelope(Generation::v6, type, seq));
  CHECK(type == MsgType::reply);
  CHECK(seq == 4000000000u);

  // A seq past 32 bits and an unknown message type are the general path's to refuse.
  const Buf too_far = encode(Value(Tuple{{Value(std::int64_t{1}), Value(std::int64_t{1} << 33), args}}));
  detail::BoxedReader far(too_far, kMaxDepth);
  CHECK_FALSE(far.envelope(Generation::v5, type, seq));
  const Buf unknown = encode(Value(Tuple{{Value(std::int64_t{9}), Value(std::int64_t{1}), args}}));
  detail::BoxedReader odd(unknown, kMaxDepth);
  CHECK_FALSE(odd.envelope(Generation::v5, type, seq));
}
