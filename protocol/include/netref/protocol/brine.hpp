#pragma once
/// Brine: RPyC's value encoding (rpyc/core/brine.py), byte for byte.
#include "netref/export.hpp"
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "netref/protocol/value.hpp"

namespace netref::brine {

/// Decoder limits (docs/FAULTS.md R1). The budget bounds what one decode builds, checked as
/// each header is read and before anything is reserved for it: a 16 KiB compressed frame
/// that inflates to 16 MiB of one-byte ints would otherwise become 16M Values (about 40 bytes
/// each). Past a limit, decode throws ProtocolError naming it.
struct NETREF_API Limits {
  std::size_t max_depth = 64;  ///< tuples/frozensets/slices nested deeper fail to decode
  /// Items of tuples, frozensets and slices one decode may build (max_decoded_items).
  std::size_t max_items = std::size_t{1} << 20;
  /// Bytes those may take (max_decoded_bytes): sizeof(Value) for each item, plus the bytes of
  /// every str, bytes and int text read. 64 MiB: four times the default frame limit.
  std::size_t max_bytes = std::size_t{64} << 20;
};

/// Appends the encoding of v to out, choosing the same tag RPyC would (immediate ints for
/// -48..159, the shortest length form, TAG_UNICODE + bytes for str). Throws ProtocolError if
/// v holds a reference (references are boxed by the connection, never brine-encoded), and
/// also for a value no Python value matches: a str that is not valid UTF-8, a BigInt whose
/// digits are not decimal, a Slice without exactly 3 parts, a length past 2**32-1, or
/// nesting deeper than 1024 levels. On a throw, out is left as it was.
NETREF_API void encode(const Value& v, std::vector<std::uint8_t>& out);

/// Encodes to a fresh buffer.
NETREF_API std::vector<std::uint8_t> encode(const Value& v);

/// encode(Value(i), out) without building the Value (hot paths: seqs, handlers, ids).
NETREF_API void encode_int(std::int64_t i, std::vector<std::uint8_t>& out);
/// encode(Value(std::string(s)), out) without building the Value (type names): throws
/// ProtocolError for invalid UTF-8, leaving out as it was.
NETREF_API void encode_str(std::string_view s, std::vector<std::uint8_t>& out);

/// Decodes exactly one value that must span all of data. Throws ProtocolError naming the
/// problem and offset: unknown tag, truncation, trailing bytes, a count larger than the
/// bytes left (checked before reserving), nesting past limits.max_depth, invalid UTF-8 in a
/// str, a non-decimal int text. Integers that do not fit int64 become BigInt.
NETREF_API Value decode(std::span<const std::uint8_t> data, const Limits& limits = {});

/// Decodes one value starting at offset, advancing offset past it (for envelopes that are
/// followed by more bytes).
NETREF_API Value decode_prefix(std::span<const std::uint8_t> data, std::size_t& offset, const Limits& limits = {});

/// True if v holds no reference anywhere (what rpyc calls "dumpable").
NETREF_API bool dumpable(const Value& v) noexcept;

/// True if s is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF):
/// what decode demands of a str, and what encode checks before writing one (encode throws
/// ProtocolError for a str that is not; send such data as Bytes).
NETREF_API bool is_valid_utf8(std::string_view s) noexcept;

}  // namespace netref::brine
