// BoxedReader: envelope, request head and boxed values read in one pass over the frame.
#include "boxed_reader.hpp"

#include <limits>

#include "netref/protocol/brine.hpp"
#include "netref/stream/error.hpp"

namespace netref::detail {
namespace {

constexpr std::uint8_t kUnicode = 0x08;
constexpr std::uint8_t kEmptyBytes = 0x01;
constexpr std::uint8_t kStr1 = 0x0a;  // bytes of length 1..4: 0x0a..0x0d
constexpr std::uint8_t kStrL1 = 0x0e;
constexpr std::uint8_t kEmptyTuple = 0x02;
constexpr std::uint8_t kTup1 = 0x10;  // tuples of 1..4 items: 0x10..0x13
constexpr std::uint8_t kTupL1 = 0x14;
constexpr std::uint8_t kTupL4 = 0x15;
constexpr std::uint8_t kIntL1 = 0x16;
constexpr std::uint8_t kImmFirst = 0x20;  // immediate ints -0x30..0x9f: 0x20..0xef
constexpr std::uint8_t kImmLast = 0xef;
constexpr std::int64_t kImmBias = 0x50;

}  // namespace

void BoxedReader::record(const RefSlot& ref) {
  if (ref_count_ < inline_refs_.size() && overflow_.empty()) {
    inline_refs_[ref_count_++] = ref;
    return;
  }
  if (overflow_.empty()) overflow_.assign(inline_refs_.begin(), inline_refs_.begin() + ref_count_);
  overflow_.push_back(ref);
}

bool BoxedReader::tuple_header(std::uint8_t t, std::size_t& n) {
  if (t == kEmptyTuple) {
    n = 0;
  } else if (t >= kTup1 && t < kTupL1) {
    n = std::size_t{t} - kTup1 + 1;
  } else if (t == kTupL1) {
    if (left() < 1) return false;
    n = data_[pos_++];
  } else if (t == kTupL4) {
    if (left() < 4) return false;
    const std::uint8_t* p = data_.data() + pos_;
    n = (std::size_t{p[0]} << 24) | (std::size_t{p[1]} << 16) | (std::size_t{p[2]} << 8) | p[3];
    pos_ += 4;
  } else {
    return false;
  }
  // Each item takes a byte at least: a count the frame cannot hold is refused before any
  // memory is reserved for it; a tuple one level too deep is left to the general path.
  return n <= left() && depth_ + 1 <= max_depth_;
}

bool BoxedReader::expect_tuple_of(std::size_t n) {
  std::uint8_t t = 0;
  std::size_t count = 0;
  return tag(t) && tuple_header(t, count) && count == n;
}

bool BoxedReader::integer(std::int64_t& out) {
  std::uint8_t t = 0;
  if (!tag(t)) return false;
  if (t >= kImmFirst && t <= kImmLast) {
    out = std::int64_t{t} - kImmBias;
    return true;
  }
  if (t != kIntL1 || left() < 1) return false;
  const std::size_t n = data_[pos_];
  if (n == 0 || left() < 1 + n) return false;
  const auto* digit = data_.data() + pos_ + 1;
  const bool negative = digit[0] == '-';
  if (n - (negative ? 1 : 0) > 19) return false;  // past int64: the general path
  std::uint64_t magnitude = 0;
  for (std::size_t i = negative ? 1 : 0; i < n; ++i) {
    const unsigned d = static_cast<unsigned>(digit[i]) - '0';
    if (d > 9) return false;
    magnitude = magnitude * 10 + d;  // 19 digits fit 64 unsigned bits
  }
  constexpr auto max_positive = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if ((negative && n == 1) || magnitude > max_positive) return false;  // INT64_MIN too: rare
  out = negative ? -static_cast<std::int64_t>(magnitude) : static_cast<std::int64_t>(magnitude);
  pos_ += 1 + n;
  return true;
}

bool BoxedReader::str(std::string_view& out) {
  // TAG_UNICODE, then the UTF-8 as bytes of up to 255.
  std::uint8_t t = 0;
  if (!tag(t) || t != kUnicode || !tag(t)) return false;
  std::size_t n = 0;
  if (t == kEmptyBytes) {
    n = 0;
  } else if (t >= kStr1 && t < kStrL1) {
    n = std::size_t{t} - kStr1 + 1;
  } else if (t == kStrL1 && left() >= 1) {
    n = data_[pos_++];
  } else {
    return false;
  }
  if (left() < n) return false;
  out = std::string_view(reinterpret_cast<const char*>(data_.data() + pos_), n);
  pos_ += n;
  return brine::is_valid_utf8(out);
}

bool BoxedReader::id_pack(RefSlot& ref) {
  std::int64_t type_id = 0;
  std::int64_t object_id = 0;
  if (!expect_tuple_of(3) || !str(ref.type_name) || !integer(type_id) || !integer(object_id) ||
      type_id < 0 || object_id < 0) {
    return false;
  }
  ref.type_id = static_cast<std::uint64_t>(type_id);
  ref.object_id = static_cast<std::uint64_t>(object_id);
  return true;
}

bool BoxedReader::plain_value(Value& out) {
  // What calls mostly carry, ints, short strs and tuples of them, read here; the rest by brine.
  if (left() == 0) return false;
  const std::size_t start = pos_;
  const std::uint8_t t = data_[pos_];
  if ((t >= kImmFirst && t <= kImmLast) || t == kIntL1) {
    std::int64_t number = 0;
    if (integer(number)) {
      out.storage().emplace<std::int64_t>(number);
      return true;
    }
  } else if (t == kUnicode) {
    std::string_view text;
    if (str(text)) {
      out.storage().emplace<std::string>(text);
      return true;
    }
  } else if (t == kEmptyTuple || (t >= kTup1 && t <= kTupL4)) {
    // A call's positional arguments, all plain: their tuple, item by item.
    ++pos_;
    std::size_t n = 0;
    if (tuple_header(t, n)) {
      Tuple tuple;
      tuple.items.reserve(n);
      ++depth_;
      bool ok = true;
      for (std::size_t i = 0; ok && i < n; ++i) ok = plain_value(tuple.items.emplace_back());
      --depth_;
      if (ok) {
        out.storage().emplace<Tuple>(std::move(tuple));
        return true;
      }
    }
  }
  pos_ = start;
  brine::Limits limits;
  limits.max_depth = max_depth_ - depth_;  // what is left below this value's container
  try {
    out = brine::decode_prefix(data_, pos_, limits);
  } catch (const ProtocolError&) {
    return false;
  }
  return true;
}

bool BoxedReader::boxed_items(std::vector<Value>& items, std::size_t n) {
  items.clear();
  items.reserve(n);  // room for all at once: slots recorded in refs() must not move
  ++depth_;
  for (std::size_t i = 0; i < n; ++i) {
    if (!boxed(items.emplace_back())) return false;
  }
  --depth_;
  return true;
}

bool BoxedReader::boxed(Value& out) {
  // (label, payload)
  std::int64_t label = 0;
  if (!pair_head(label)) return false;
  bool ok = false;
  switch (label) {
    case static_cast<int>(Label::value):
      ok = plain_value(out);
      break;
    case static_cast<int>(Label::tuple): {
      std::uint8_t t = 0;
      std::size_t n = 0;
      if (!tag(t) || !tuple_header(t, n)) return false;
      Tuple tuple;
      ok = boxed_items(tuple.items, n);
      out.storage().emplace<Tuple>(std::move(tuple));  // the items' storage moves along: slots stay valid
      break;
    }
    case static_cast<int>(Label::local_ref):
    case static_cast<int>(Label::remote_ref): {
      RefSlot ref{&out, static_cast<Label>(label), {}, 0, 0};
      ok = id_pack(ref);
      if (ok) record(ref);
      break;
    }
    default:
      return false;
  }
  --depth_;
  return ok;
}

bool BoxedReader::boxed_args(Args& args) {
  std::int64_t label = 0;
  if (!pair_head(label)) return false;
  if (label == static_cast<int>(Label::value)) {
    Value plain;
    if (!plain_value(plain)) return false;
    auto* tuple = plain.get_if<Tuple>();
    if (tuple == nullptr) return false;
    args = std::move(tuple->items);
  } else if (label == static_cast<int>(Label::tuple)) {
    std::uint8_t t = 0;
    std::size_t n = 0;
    if (!tag(t) || !tuple_header(t, n) || !boxed_items(args, n)) return false;
  } else {
    return false;
  }
  --depth_;
  return true;
}

bool BoxedReader::envelope(Generation generation, MsgType& type, std::uint32_t& seq) {
  std::int64_t number = 0;
  if (generation == Generation::v5) {
    // (msg, seq, body)
    if (!expect_tuple_of(3)) return false;
    ++depth_;
    if (!integer(number)) return false;
  } else {
    // msg byte, then (seq, body)
    std::uint8_t msg = 0;
    if (!tag(msg) || !expect_tuple_of(2)) return false;
    number = msg;
    ++depth_;
  }
  std::int64_t seq_number = 0;
  if (!integer(seq_number)) return false;
  if (number < 1 || number > 3 || seq_number < 0 ||
      seq_number > std::numeric_limits<std::uint32_t>::max()) {
    return false;
  }
  type = static_cast<MsgType>(number);
  seq = static_cast<std::uint32_t>(seq_number);
  return true;
}

bool BoxedReader::request_head(std::int64_t& handler) { return pair_head(handler); }

}  // namespace netref::detail
