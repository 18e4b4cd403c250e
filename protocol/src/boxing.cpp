// Values in and out of messages: the envelope, boxing (what we lend, what we return), and
// unboxing (what the peer lends us becomes a RemoteRef; what it returns to us, our object).
#include <limits>
#include <string>

#include "connection_impl.hpp"
#include "netref/protocol/brine.hpp"
#include "wire/decimal.hpp"
#include "wire/messages.hpp"
#include "wire/writer.hpp"

namespace netref {
namespace wire = detail::wire;

namespace detail {

void encode_tuple_header(std::size_t n, std::vector<std::uint8_t>& out) { wire::put_tuple_header(n, out); }

void encode_id_pack(const IdPack& id, std::vector<std::uint8_t>& out) { wire::encode_id_pack(id, out); }

std::int64_t expect_int(const Value& v, const char* what) {
  if (auto* i = v.get_if<std::int64_t>()) return *i;
  if (auto* b = v.get_if<bool>()) return *b ? 1 : 0;
  throw ProtocolError(std::string(what) + " must be an int, got " + std::string(v.type_name()));
}

std::uint64_t expect_u64(const Value& v, const char* what) {
  if (auto* i = v.get_if<std::int64_t>()) {
    if (*i < 0) throw ProtocolError(std::string(what) + " must not be negative");
    return static_cast<std::uint64_t>(*i);
  }
  if (auto* b = v.get_if<BigInt>()) {
    wire::DecimalInt d;
    if (!wire::parse_decimal(b->digits, d)) throw ProtocolError(std::string(what) + " is not a number");
    if (d.negative || !d.fits_u64) throw ProtocolError(std::string(what) + " is out of range");
    return d.magnitude;
  }
  throw ProtocolError(std::string(what) + " must be an int, got " + std::string(v.type_name()));
}

namespace {
// What GatherScope gathers: a body this large goes out from its Value, not copied (below it,
// one contiguous write is cheaper than the bookkeeping).
constexpr std::size_t kGatherBytes = 64u << 10;

// The message this thread is boxing into, when it gathers (GatherScope).
thread_local FrameBuffer* gathering = nullptr;

// brine::encode(v, out), except that a large bytes or str, while this thread's message
// gathers and has not gathered one yet, gets only its head written: its body is recorded.
void encode_plain(const Value& v, std::vector<std::uint8_t>& out) {
  if (const auto* i = v.get_if<std::int64_t>()) {  // the commonest argument: no encoder needed
    wire::put_int(*i, out);
    return;
  }
  if (gathering != nullptr && gathering->gathered.empty()) {
    std::string_view body;
    if (const auto* b = v.get_if<Bytes>()) {
      body = b->data;
    } else if (const auto* s = v.get_if<std::string>()) {
      body = *s;
      if (body.size() >= kGatherBytes && !brine::is_valid_utf8(body)) wire::fail_utf8();
    }
    if (body.size() >= kGatherBytes) {
      if (!v.get_if<Bytes>()) wire::put_byte(wire::tag::unicode, out);
      wire::put_bytes_head(body.size(), out);
      gathering->gathered_at = out.size();
      gathering->gathered = std::span(reinterpret_cast<const std::uint8_t*>(body.data()), body.size());
      return;
    }
  }
  brine::encode(v, out);
}

/// An id_pack read in place: the type name points into the Value (no copy).
struct IdPackView {
  std::string_view type_name;
  std::uint64_t type_id = 0;
  std::uint64_t object_id = 0;
};

IdPackView parse_id_pack_view(const Value& v) {
  auto* t = v.get_if<Tuple>();
  if (t == nullptr || t->items.size() != 3) throw ProtocolError("an id_pack must be a 3-tuple");
  IdPackView id;
  if (auto* s = t->items[0].get_if<std::string>()) {
    id.type_name = *s;
  } else if (auto* b = t->items[0].get_if<Bytes>()) {
    id.type_name = b->data;
  } else if (!t->items[0].is_none()) {
    throw ProtocolError("an id_pack's type name must be a str");
  }
  id.type_id = expect_u64(t->items[1], "an id_pack's type id");
  id.object_id = expect_u64(t->items[2], "an id_pack's object id");
  return id;
}
}  // namespace

GatherScope::GatherScope(FrameBuffer& frame) noexcept : previous_(gathering) {
  frame.gathered = {};
  frame.gathered_at = 0;
  gathering = &frame;
}

GatherScope::~GatherScope() { gathering = previous_; }

IdPack parse_id_pack(const Value& v) {
  const IdPackView view = parse_id_pack_view(v);
  return IdPack{std::string(view.type_name), view.type_id, view.object_id};
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Envelope

void detail::ConnectionImpl::begin_message(std::vector<std::uint8_t>& out, MsgType type, std::uint32_t seq) const {
  wire::encode_message_head(generation.load(std::memory_order_relaxed), type, seq, out);
}

void detail::ConnectionImpl::check_peer_generation(std::uint8_t first_byte) const {
  // A 5.x message is a brine 3-tuple; a 6.x one starts with its msg byte (1 to 3). Either
  // in the other's place is the peer speaking the other generation, not noise.
  const Generation ours = generation.load(std::memory_order_relaxed);
  if (ours == Generation::v6 && first_byte == wire::tag::tup3) throw GenerationMismatch(ours, Generation::v5);
  if (ours == Generation::v5 && first_byte >= 1 && first_byte <= 3) throw GenerationMismatch(ours, Generation::v6);
}

detail::Message detail::ConnectionImpl::decode_message(std::span<const std::uint8_t> frame) {
  if (frame.empty()) throw ProtocolError("empty message (a frame of length 0)");
  if (!generation_known.load(std::memory_order_acquire)) {
    // rpyc 5.x messages are brine 3-tuples; 6.x start with the raw msg byte.
    generation.store(frame[0] == wire::tag::tup3 ? Generation::v5 : Generation::v6, std::memory_order_relaxed);
    generation_known.store(true, std::memory_order_release);
  } else {
    check_peer_generation(frame[0]);
  }
  brine::Limits limits;
  limits.max_depth = config.max_depth;
  detail::Message msg{};
  std::int64_t type = 0;
  std::int64_t seq = 0;
  // The general path: messages in the common shapes were read by BoxedReader already.
  if (generation.load(std::memory_order_relaxed) == Generation::v5) {
    Value v = brine::decode(frame, limits);
    auto* t = v.get_if<Tuple>();
    if (t == nullptr || t->items.size() != 3) {
      throw ProtocolError("a message must be a (msg, seq, body) tuple, got " + v.debug_string(60));
    }
    type = detail::expect_int(t->items[0], "the message type");
    seq = detail::expect_int(t->items[1], "the seq");
    msg.body = std::move(t->items[2]);
  } else {
    type = frame[0];
    Value v = brine::decode(frame.subspan(1), limits);
    auto* t = v.get_if<Tuple>();
    if (t == nullptr || t->items.size() != 2) {
      throw ProtocolError("a message must be a msg byte and a (seq, body) tuple, got " + v.debug_string(60));
    }
    seq = detail::expect_int(t->items[0], "the seq");
    msg.body = std::move(t->items[1]);
  }
  if (type < 1 || type > 3) throw ProtocolError("unknown message type " + std::to_string(type));
  if (seq < 0 || seq > std::numeric_limits<std::uint32_t>::max()) {
    throw ProtocolError("seq " + std::to_string(seq) + " is out of range");
  }
  msg.type = static_cast<MsgType>(type);
  msg.seq = static_cast<std::uint32_t>(seq);
  return msg;
}

bool detail::ConnectionImpl::read_fast(detail::BoxedReader& reader, detail::FastMessage& msg, Value& value,
                                 Args& args) {
  // The first message settles the generation, the general way.
  if (!generation_known.load(std::memory_order_acquire)) return false;
  if (!reader.envelope(generation.load(std::memory_order_relaxed), msg.type, msg.seq)) return false;
  if (msg.type == MsgType::reply) return reader.boxed(value) && reader.at_end();
  if (msg.type != MsgType::request || !reader.request_head(msg.handler)) return false;
  // CLOSE and the DELs are bookkeeping that serve_special does on the general path.
  const bool special = msg.handler == static_cast<int>(Handler::close) ||
                       msg.handler == static_cast<int>(Handler::del) ||
                       msg.handler == static_cast<int>(Handler::del_batch) ||
                       msg.handler == static_cast<int>(Handler::release_results);
  return !special && reader.boxed_args(args) && reader.at_end();
}

// ---------------------------------------------------------------------------------------------
// Boxing

void detail::ConnectionImpl::lend(const ObjectPtr& object, std::vector<std::uint8_t>& out,
                            std::vector<const Object*>& lent_now) {
  if (!object) {
    wire::put_label(Label::value, out);  // a null object travels as None
    wire::put_byte(wire::tag::none, out);
    return;
  }
  std::uint64_t id;
  {
    std::lock_guard lk(tables_mutex);
    id = lent.lend(object, {config.max_lent_objects, config.max_lent_objects_in_process});
  }
  lent_now.push_back(object.get());
  put_lent_ref(*object, id, out);
}

void detail::ConnectionImpl::lend_forwarded(const RemoteRefPtr& ref, std::vector<std::uint8_t>& out,
                                            std::vector<const Object*>& lent_now) {
  std::pair<std::uint64_t, ObjectPtr> lent_as;
  {
    std::lock_guard lk(tables_mutex);
    lent_as = lent.lend_forwarded(ref, {config.max_lent_objects, config.max_lent_objects_in_process});
  }
  lent_now.push_back(lent_as.second.get());
  put_lent_ref(*lent_as.second, lent_as.first, out);
}

void detail::ConnectionImpl::put_lent_ref(const Object& object, std::uint64_t id, std::vector<std::uint8_t>& out) {
  wire::put_label(Label::remote_ref, out);  // (LABEL_REMOTE_REF, id_pack)
  wire::put_byte(wire::tag::tup3, out);
  wire::put_str(object.type_name(), out);
  // Type ids stay below 2**63, object ids are a counter: both one int64 on the wire.
  wire::put_int(static_cast<std::int64_t>(object.type_id() & 0x7fffffffffffffffull), out);
  wire::put_int(static_cast<std::int64_t>(id), out);
}

void detail::ConnectionImpl::box(const Value& v, std::vector<std::uint8_t>& out, std::vector<const Object*>& lent_now) {
  switch (v.kind()) {
    case Value::Kind::integer:  // the commonest result
      wire::put_label(Label::value, out);
      wire::put_int(*v.get_if<std::int64_t>(), out);
      return;
    case Value::Kind::local_object:
      lend(*v.get_if<ObjectPtr>(), out, lent_now);
      return;
    case Value::Kind::remote_ref: {
      const auto& ref = *v.get_if<RemoteRefPtr>();
      if (!ref) {
        wire::put_label(Label::value, out);  // a null netref travels as None
        wire::put_byte(wire::tag::none, out);
      } else if (ref->connection().get() == self) {
        wire::put_label(Label::local_ref, out);  // (LABEL_LOCAL_REF, id_pack): the peer's own object
        out.insert(out.end(), ref->wire_id_.begin(), ref->wire_id_.end());
      } else {
        // A netref of another connection: lent as its forwarder, one id however often it is
        // sent (RPyC lends the netref itself); it comes back as this netref.
        lend_forwarded(ref, out, lent_now);
      }
      return;
    }
    case Value::Kind::tuple: {
      if (brine::dumpable(v)) break;
      const auto& items = v.get_if<Tuple>()->items;
      wire::put_label(Label::tuple, out);  // (LABEL_TUPLE, (boxed, ...))
      wire::put_tuple_header(items.size(), out);
      for (const auto& item : items) box(item, out, lent_now);
      return;
    }
    case Value::Kind::frozenset:
    case Value::Kind::slice:
      if (!brine::dumpable(v)) {
        throw TypeError("a " + std::string(v.type_name()) + " holding object references cannot be sent");
      }
      break;
    default:
      break;
  }
  wire::put_label(Label::value, out);  // (LABEL_VALUE, v)
  detail::encode_plain(v, out);
}

void detail::ConnectionImpl::box_args(std::span<const Value> args, std::vector<std::uint8_t>& out,
                                std::vector<const Object*>& lent_now) {
  bool plain = true;
  for (const auto& a : args) {
    if (a.kind() != Value::Kind::integer && !brine::dumpable(a)) {
      plain = false;
      break;
    }
  }
  if (plain) {
    wire::put_label(Label::value, out);
    wire::put_tuple_header(args.size(), out);
    for (const auto& a : args) detail::encode_plain(a, out);
    return;
  }
  wire::put_label(Label::tuple, out);
  wire::put_tuple_header(args.size(), out);
  for (const auto& a : args) box(a, out, lent_now);
}

void detail::ConnectionImpl::box_call(const detail::CallSpec& call, std::vector<std::uint8_t>& out,
                                std::vector<const Object*>& lent_now) {
  // (LABEL_TUPLE, ((LABEL_LOCAL_REF, id_pack), [name or names,] args, kwargs))
  wire::put_label(Label::tuple, out);
  wire::put_tuple_header(call.names.empty() ? 3 : 4, out);
  if (call.target != nullptr) {
    wire::put_label(Label::local_ref, out);
    out.insert(out.end(), call.target->wire_id_.begin(), call.target->wire_id_.end());
  } else {
    wire::encode_promise(call.promise, out);  // the result of our request call.promise
  }
  if (call.names.size() == 1) {
    wire::put_label(Label::value, out);
    wire::put_str(call.names.front(), out);
  } else if (call.names.size() > 1) {
    wire::put_label(Label::value, out);
    wire::put_tuple_header(call.names.size(), out);
    for (const auto& name : call.names) wire::put_str(name, out);
  }
  box_args(call.args, out, lent_now);
  if (call.kwargs.empty()) {
    wire::put_label(Label::value, out);  // (LABEL_VALUE, ())
    wire::put_byte(wire::tag::empty_tuple, out);
  } else {
    box(kwargs_to_value(std::move(call.kwargs)), out, lent_now);
  }
}

void detail::ConnectionImpl::rollback_lends(const std::vector<const Object*>& lent_now) noexcept {
  std::vector<ObjectPtr> dropped;  // destroyed after the lock is released
  std::lock_guard lk(tables_mutex);
  lent.rollback(lent_now, dropped);
}

// ---------------------------------------------------------------------------------------------
// Unboxing

Value detail::ConnectionImpl::unbox(Value&& boxed) {
  auto* t = boxed.get_if<Tuple>();
  if (t == nullptr || t->items.size() != 2) {
    throw ProtocolError("a boxed value must be a (label, value) pair, got " + boxed.debug_string(60));
  }
  const auto label = detail::expect_int(t->items[0], "a boxing label");
  switch (static_cast<Label>(label)) {
    case Label::value:
      return std::move(t->items[1]);
    case Label::tuple: {
      auto* inner = t->items[1].get_if<Tuple>();
      if (inner == nullptr) throw ProtocolError("LABEL_TUPLE must hold a tuple");
      // In place: the boxed tuple is ours to consume, so its items become the result.
      for (auto& item : inner->items) item = unbox(std::move(item));
      return std::move(t->items[1]);
    }
    case Label::local_ref:
      return lent_value(t->items[1]);
    case Label::remote_ref:
      return Value(import_ref(t->items[1]));
    case Label::promise:  // a request's target is taken out before unboxing (take_promise)
      throw RemoteError("ValueError", "a pipelined reference (label 5) may only be a request's target");
  }
  throw ProtocolError("invalid boxing label " + std::to_string(label));
}

namespace {
// Same answer for a forged id, another connection's id, and a released one: no oracle.
[[noreturn]] void throw_no_such_object(std::uint64_t object_id) {
  throw RemoteError("ReferenceError", "no such object (id " + std::to_string(object_id) + ") on this connection");
}
}  // namespace

ObjectPtr detail::ConnectionImpl::lookup_lent(const Value& id_pack) {
  const auto id = detail::parse_id_pack_view(id_pack);
  return lookup_lent(id.type_name, id.object_id);
}

ObjectPtr detail::ConnectionImpl::lookup_lent(std::string_view type_name, std::uint64_t object_id) {
  std::lock_guard lk(tables_mutex);
  auto object = lent.find(object_id, type_name);
  if (!object) throw_no_such_object(object_id);
  return object;
}

Value detail::ConnectionImpl::lent_value(const Value& id_pack) {
  const auto id = detail::parse_id_pack_view(id_pack);
  return lent_value(id.type_name, id.object_id);
}

Value detail::ConnectionImpl::lent_value(std::string_view type_name, std::uint64_t object_id) {
  Value found;
  {
    std::lock_guard lk(tables_mutex);
    found = lent.find_value(object_id, type_name);
  }
  if (found.is_none()) throw_no_such_object(object_id);
  return found;
}

RemoteRefPtr detail::ConnectionImpl::import_ref(const Value& id_pack) {
  return import_ref(detail::parse_id_pack(id_pack));
}

RemoteRefPtr detail::ConnectionImpl::import_ref(IdPack id) {
  std::lock_guard lk(tables_mutex);
  auto [ref, existed] = imports.find_or_add(id, [&] { return std::make_shared<RemoteRef>(self->shared_from_this(), std::move(id)); });
  if (existed) ref->received_.fetch_add(1, std::memory_order_relaxed);  // one more DEL count owed
  return ref;
}

void detail::ConnectionImpl::resolve(std::span<const detail::RefSlot> refs) {
  for (const auto& ref : refs) {
    if (ref.label == Label::promise) continue;  // a request's target: take_promise's
    if (ref.label == Label::local_ref) {
      bool found;
      {
        std::lock_guard lk(tables_mutex);  // the slot holds None: nothing is destroyed under the lock
        found = lent.put_value(ref.object_id, ref.type_name, *ref.slot);
      }
      if (!found) throw_no_such_object(ref.object_id);
    } else {
      *ref.slot = Value(import_ref(IdPack{std::string(ref.type_name), ref.type_id, ref.object_id}));
    }
  }
}

ObjectPtr detail::ConnectionImpl::release_lent(const Value& id_pack, std::uint64_t count) {
  const auto id = detail::parse_id_pack_view(id_pack);
  std::lock_guard lk(tables_mutex);
  return lent.release(id.object_id, count);
}

}  // namespace netref
