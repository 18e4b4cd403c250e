// Fuzz target L3 (docs/FAULTS.md §6): the brine value codec. Byte 0 picks the mode (bit 0) and
// the decoder's max_depth (bits 1-3).
//  Decode mode (bit 0 clear): the rest is brine bytes from a peer.
//   - decode throws only ProtocolError; it succeeds exactly when decode_prefix reads a value
//     that ends at the last byte, and both give the same value;
//   - a decoded value re-encodes without throwing, to no more bytes than it came in (brine's
//     canonical form is its shortest), and decode(encode(v)) == v, encode(decode(e)) == e;
//   - debug_string(n) is at most n printable ASCII characters;
//   - brine::is_valid_utf8 agrees with an independent UTF-8 check on the raw bytes.
//  Encode mode (bit 0 set): the rest chooses a Value (any kind, nested, possibly invalid).
//   - encode throws exactly when the value has no Python counterpart (invalid UTF-8 in a
//     str, non-decimal BigInt digits, a slice of other than 3 parts), leaving out untouched;
//   - otherwise decode(encode(x)) == x up to BigInt normalisation, and re-encoding is stable.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "netref/protocol/brine.hpp"
#include "netref/stream/error.hpp"

namespace {

using netref::Value;
using netref::fuzz::Input;
namespace brine = netref::brine;

constexpr std::size_t kDepths[] = {64, 0, 1, 2, 3, 8, 64, 200};

void check_rendering(const Value& v, std::size_t max_chars) {
  const std::string s = v.debug_string(max_chars);
  NETREF_FUZZ_CHECK(s.size() <= max_chars, "debug_string(" + std::to_string(max_chars) + ") gave " + std::to_string(s.size()) + " chars");
  for (unsigned char c : s) {
    NETREF_FUZZ_CHECK(c >= 0x20 && c < 0x7f, "debug_string produced a byte outside printable ASCII");
  }
}

void check_round_trip(const Value& v, std::size_t input_size) {
  std::vector<std::uint8_t> encoded;
  try {
    encoded = brine::encode(v);
  } catch (const netref::Error& e) {
    NETREF_FUZZ_CHECK(false, std::string("a decoded value does not re-encode: ") + e.what());
  }
  NETREF_FUZZ_CHECK(encoded.size() <= input_size,
                    "re-encoding " + std::to_string(input_size) + " bytes gave " + std::to_string(encoded.size()) + " (not canonical)");
  Value again;
  try {
    again = brine::decode(encoded, brine::Limits{.max_depth = 1024});
  } catch (const netref::Error& e) {
    NETREF_FUZZ_CHECK(false, std::string("encode's output does not decode: ") + e.what());
  }
  NETREF_FUZZ_CHECK(netref::fuzz::same_value(again, v), "decode(encode(v)) != v: " + v.debug_string(100));
  NETREF_FUZZ_CHECK(brine::encode(again) == encoded, "encode(decode(e)) != e");
}

void decode_mode(std::span<const std::uint8_t> data, const brine::Limits& limits) {
  const std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
  NETREF_FUZZ_CHECK(brine::is_valid_utf8(text) == netref::fuzz::utf8_ok(text), "is_valid_utf8 disagrees with RFC 3629");

  std::optional<Value> whole;
  try {
    whole = brine::decode(data, limits);
  } catch (const netref::ProtocolError&) {
  }
  std::optional<Value> prefix;
  std::size_t offset = 0;
  try {
    prefix = brine::decode_prefix(data, offset, limits);
    NETREF_FUZZ_CHECK(offset > 0 && offset <= data.size(), "decode_prefix moved offset out of the data");
  } catch (const netref::ProtocolError&) {
    NETREF_FUZZ_CHECK(offset == 0, "a failed decode_prefix moved offset");
  }
  NETREF_FUZZ_CHECK(whole.has_value() == (prefix.has_value() && offset == data.size()),
                    "decode and decode_prefix disagree on whether the data is one value");
  if (!prefix) return;
  if (whole) NETREF_FUZZ_CHECK(netref::fuzz::same_value(*whole, *prefix), "decode and decode_prefix give different values");
  check_rendering(*prefix, data.empty() ? 0 : data[0]);
  check_round_trip(*prefix, offset);
}

void encode_mode(Input& in) {
  netref::fuzz::GenOptions options;
  options.max_depth = 1 + in.below(10);
  const Value x = netref::fuzz::make_value(in, options);
  const bool valid = netref::fuzz::encodable(x);
  std::vector<std::uint8_t> out = {0xAB, 0xCD};  // encode appends; on a throw, out stays as it was
  try {
    brine::encode(x, out);
  } catch (const netref::ProtocolError&) {
    NETREF_FUZZ_CHECK(!valid, "encode refused a value Python has: " + x.debug_string(100));
    NETREF_FUZZ_CHECK(out == (std::vector<std::uint8_t>{0xAB, 0xCD}), "a failed encode changed its output");
    return;
  }
  NETREF_FUZZ_CHECK(valid, "encode accepted a value no Python value matches: " + x.debug_string(100));
  const std::vector<std::uint8_t> encoded(out.begin() + 2, out.end());
  Value decoded;
  try {
    decoded = brine::decode(encoded);
  } catch (const netref::ProtocolError& e) {
    NETREF_FUZZ_CHECK(false, std::string("encode's output does not decode: ") + e.what());
  }
  NETREF_FUZZ_CHECK(netref::fuzz::same_value(decoded, netref::fuzz::normalized(x)),
                    "decode(encode(x)) != x: " + x.debug_string(100) + " came back as " + decoded.debug_string(100));
  NETREF_FUZZ_CHECK(brine::encode(decoded) == encoded, "encoding is not stable across a round trip");
  check_rendering(x, in.u8());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  const std::uint8_t config = in.u8();
  if (config & 1) {
    encode_mode(in);
  } else {
    decode_mode(in.rest(), brine::Limits{.max_depth = kDepths[(config >> 1) & 7]});
  }
  return 0;
}
