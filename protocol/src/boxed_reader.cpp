// BoxedReader: envelope, request head and boxed values read in one pass over the frame.
#include "boxed_reader.hpp"

#include <limits>

#include "netref/protocol/detail/item_vectors.hpp"
#include "netref/stream/error.hpp"
#include "wire/decimal.hpp"
#include "wire/tags.hpp"

namespace netref::detail {

void BoxedReader::record(const RefSlot& ref) {
  if (ref_count_ < inline_refs_.size() && overflow_.empty()) {
    inline_refs_[ref_count_++] = ref;
    return;
  }
  if (overflow_.empty()) overflow_.assign(inline_refs_.begin(), inline_refs_.begin() + ref_count_);
  overflow_.push_back(ref);
}

bool BoxedReader::id_pack(RefSlot& ref) {
  std::int64_t type_id = 0;
  std::int64_t object_id = 0;
  if (!expect_tuple_of(3) || !str(ref.type_name) || !p_.int64(type_id) || !p_.int64(object_id) ||
      type_id < 0 || object_id < 0) {
    return false;
  }
  p_.close();
  ref.type_id = static_cast<std::uint64_t>(type_id);
  ref.object_id = static_cast<std::uint64_t>(object_id);
  return true;
}

bool BoxedReader::plain_value(Value& out) {
  // What calls mostly carry, ints, strs and tuples of them, read here; the rest by the
  // general decoder on the same parser.
  const auto start = p_.mark();
  std::uint8_t t = 0;
  if (!p_.tag(t)) return false;
  if (wire::is_immediate(t)) {
    out.storage().emplace<std::int64_t>(wire::immediate_value(t));
    return true;
  }
  if (t == wire::tag::int_l1) {
    wire::DecimalInt d;
    if (p_.int_text(t, start.pos, d) && d.fits_int64()) {
      out.storage().emplace<std::int64_t>(d.to_int64());
      return true;
    }
  } else if (t == wire::tag::unicode) {
    std::string_view text;
    if (p_.str_body(start.pos, text)) {
      out.storage().emplace<std::string>(text);
      return true;
    }
  } else if (wire::is_tuple_tag(t)) {
    // A call's positional arguments, all plain: their tuple, item by item.
    std::size_t n = 0;
    if (p_.open_tuple(t, start.pos, n)) {
      Tuple tuple;
      tuple.items = take_item_vector();  // the handler gives it back (a call allocates none)
      tuple.items.reserve(n);
      bool ok = true;
      for (std::size_t i = 0; ok && i < n; ++i) ok = plain_value(tuple.items.emplace_back());
      if (ok) {
        p_.close();
        out.storage().emplace<Tuple>(std::move(tuple));
        return true;
      }
    }
  }
  p_.rewind(start);
  try {
    out = wire::read_value(p_);
  } catch (const ProtocolError&) {
    return false;
  }
  return true;
}

bool BoxedReader::boxed_items(std::vector<Value>& items, std::size_t n) {
  items.clear();
  items.reserve(n);  // room for all at once: slots recorded in refs() must not move
  for (std::size_t i = 0; i < n; ++i) {
    if (!boxed(items.emplace_back())) return false;
  }
  p_.close();
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
      const std::size_t at = p_.pos();
      std::uint8_t t = 0;
      std::size_t n = 0;
      if (!p_.tag(t) || !p_.open_tuple(t, at, n)) return false;
      Tuple tuple;
      ok = boxed_items(tuple.items, n);
      out.storage().emplace<Tuple>(std::move(tuple));  // the items' storage moves along: slots stay valid
      break;
    }
    case static_cast<int>(Label::promise): {  // (5, seq): recorded; take_promise checks where it is
      std::int64_t seq = 0;
      if (!p_.int64(seq) || seq < 0) return false;
      record(RefSlot{&out, Label::promise, {}, 0, static_cast<std::uint64_t>(seq)});
      saw_promise_ = true;
      ok = true;
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
  p_.close();
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
    const std::size_t at = p_.pos();
    std::uint8_t t = 0;
    std::size_t n = 0;
    if (!p_.tag(t) || !p_.open_tuple(t, at, n) || !boxed_items(args, n)) return false;
  } else {
    return false;
  }
  p_.close();
  return true;
}

bool BoxedReader::envelope(Generation generation, MsgType& type, std::uint32_t& seq) {
  std::int64_t number = 0;
  if (generation == Generation::v5) {
    // (msg, seq, body)
    if (!expect_tuple_of(3) || !p_.int64(number)) return false;
  } else {
    // msg byte, then (seq, body)
    std::uint8_t msg = 0;
    if (!p_.tag(msg) || !expect_tuple_of(2)) return false;
    number = msg;
  }
  std::int64_t seq_number = 0;
  if (!p_.int64(seq_number)) return false;
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
