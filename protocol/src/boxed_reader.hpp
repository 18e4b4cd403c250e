#pragma once
// BoxedReader: the fast way in for the messages every call carries. It reads a message's
// envelope and its boxed values straight from the frame's bytes into their final Values,
// without the (label, value) tuples and the second pass that brine::decode plus unbox take.
// It is the wire parser used well, not a second decoder: every tag, count, depth and budget
// check is the parser's, and whatever it does not read itself the general decoder reads on
// the same parser.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "netref/protocol/brine.hpp"
#include "netref/protocol/consts.hpp"
#include "netref/protocol/object.hpp"
#include "netref/protocol/value.hpp"
#include "wire/parser.hpp"

namespace netref::detail {

/// A reference met while reading: where its object goes once the whole message has been
/// read. Nothing is looked up or imported before that (docs/FAULTS.md R4).
struct RefSlot {
  Value* slot;
  Label label;  // local_ref: an object we lent; remote_ref: one the peer lends us
  std::string_view type_name;  // points into the frame
  std::uint64_t type_id;
  std::uint64_t object_id;
};

/// Reads the common shapes of messages; answers false for anything else, malformed input
/// included, and the caller then decodes the general way (brine::decode, then unbox), which
/// also words the error. Until it returns true it has changed nothing but its outputs, so
/// falling back is always safe and every error stays exactly what the general path says.
class BoxedReader {
 public:
  /// frame: a whole message; max_depth: the connection's brine nesting limit; the decode
  /// budget is brine::Limits' default.
  BoxedReader(std::span<const std::uint8_t> frame, std::size_t max_depth) noexcept
      : BoxedReader(frame, brine::Limits{.max_depth = max_depth}) {}
  /// frame: a whole message; limits: nesting and decode budget, as the general decoder's.
  BoxedReader(std::span<const std::uint8_t> frame, const brine::Limits& limits) noexcept
      : p_(frame, 0, limits) {}

  /// The envelope: the message type and seq, leaving the reader at the body.
  bool envelope(Generation generation, MsgType& type, std::uint32_t& seq);
  /// A request body's head, (handler, ...: leaves the reader at the boxed arguments.
  bool request_head(std::int64_t& handler);
  /// One boxed value into out; references are only recorded (refs()).
  bool boxed(Value& out);
  /// Boxed request arguments, which must be a tuple, into args (resized to fit).
  bool boxed_args(Args& args);
  /// True when every byte of the frame was read.
  bool at_end() const noexcept { return p_.at_end(); }

  /// The references met, in wire order. The slots point into the outputs given above,
  /// which must stay where they are until the references are resolved.
  std::span<const RefSlot> refs() const noexcept {
    return overflow_.empty() ? std::span<const RefSlot>(inline_refs_.data(), ref_count_)
                             : std::span<const RefSlot>(overflow_);
  }
  /// True when a promise (Label::promise) was among them: only then is there one to take.
  bool saw_promise() const noexcept { return saw_promise_; }

 private:
  /// A tuple of exactly n items, opened (the caller closes it).
  [[gnu::always_inline]] bool expect_tuple_of(std::size_t n) {
    const std::size_t at = p_.pos();
    std::uint8_t t = 0;
    if (!p_.tag(t)) return false;
    // What every peer writes for a tuple of up to 4: the short tag (skips the tag's sorting).
    if (n >= 1 && n <= 4 && t == wire::tag::tup1 + n - 1) return p_.open_counted_tuple(at, n);
    std::size_t count = 0;
    return p_.open_tuple(t, at, count) && count == n;
  }
  /// (int, ...: a boxed value's label, a request body's handler; leaves the reader at the
  /// second item, one level down. Here, to be inlined: every boxed value starts with one.
  bool pair_head(std::int64_t& first) { return expect_tuple_of(2) && p_.int64(first); }
  bool str(std::string_view& out) {
    const std::size_t at = p_.pos();
    std::uint8_t t = 0;
    return p_.tag(t) && t == wire::tag::unicode && p_.str_body(at, out);
  }
  bool id_pack(RefSlot& ref);
  bool plain_value(Value& out);
  bool boxed_items(std::vector<Value>& items, std::size_t n);

  wire::Parser p_;
  // A call names one or two references: those stay inline, more spill to the heap.
  std::array<RefSlot, 4> inline_refs_;
  std::size_t ref_count_ = 0;
  bool saw_promise_ = false;
  std::vector<RefSlot> overflow_;
  void record(const RefSlot& ref);
};

}  // namespace netref::detail
