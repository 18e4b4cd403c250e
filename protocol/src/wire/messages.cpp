// The message builders: envelopes, and the requests netref writes without boxing a Value.
#include "messages.hpp"

namespace netref::detail::wire {
namespace {
/// `(LABEL_VALUE, ())`: the boxed arguments of a request that takes none.
void put_no_arguments(Buffer& out) {
  put_label(Label::value, out);
  put_byte(tag::empty_tuple, out);
}
}  // namespace

void encode_message_head(Generation generation, MsgType type, std::uint32_t seq, Buffer& out) {
  if (generation == Generation::v5) {
    put_byte(tag::tup3, out);  // (msg, seq, body)
    put_int(static_cast<std::int64_t>(type), out);
  } else {
    put_byte(static_cast<std::uint8_t>(type), out);  // msg byte, then (seq, body)
    put_byte(tag::tup2, out);
  }
  put_int(static_cast<std::int64_t>(seq), out);
}

void encode_request_head(Generation generation, std::uint32_t seq, Handler handler, Buffer& out) {
  encode_request_head(generation, seq, static_cast<std::int64_t>(handler), out);
}

void encode_request_head(Generation generation, std::uint32_t seq, std::int64_t handler_number, Buffer& out) {
  encode_message_head(generation, MsgType::request, seq, out);
  put_byte(tag::tup2, out);  // (handler, boxed args)
  put_int(handler_number, out);
}

void encode_id_pack(const IdPack& id, Buffer& out) {
  put_byte(tag::tup3, out);
  put_str(id.type_name, out);
  put_u64(id.type_id, out);
  put_u64(id.object_id, out);
}

void encode_getroot(Generation generation, std::uint32_t seq, Buffer& out) {
  encode_request_head(generation, seq, Handler::getroot, out);
  put_no_arguments(out);
}

void encode_ping(Generation generation, std::uint32_t seq, std::string_view payload, Buffer& out) {
  encode_request_head(generation, seq, Handler::ping, out);
  put_label(Label::value, out);
  put_tuple_header(1, out);
  put_str(payload, out);
}

void encode_close(Generation generation, std::uint32_t seq, Buffer& out) {
  encode_request_head(generation, seq, Handler::close, out);
  put_no_arguments(out);
}

void encode_hello(Generation generation, std::uint32_t seq, Buffer& out) {
  encode_request_head(generation, seq, Handler::hello, out);
  put_label(Label::value, out);
  put_tuple_header(3, out);
  put_bytes("netref", out);
  put_int(extension_version, out);
  put_tuple_header(feature_names.size(), out);  // the features this build uses
  for (auto name : feature_names) put_str(name, out);
}

void encode_del(Generation generation, std::uint32_t seq, const IdPack& id, std::uint64_t count, Buffer& out) {
  encode_request_head(generation, seq, Handler::del, out);
  put_label(Label::tuple, out);
  put_tuple_header(2, out);
  put_label(Label::local_ref, out);
  encode_id_pack(id, out);
  put_label(Label::value, out);
  put_u64(count, out);
}

void encode_del_batch(Generation generation, std::uint32_t seq,
                      std::span<const std::pair<IdPack, std::uint64_t>> batch, Buffer& out) {
  encode_request_head(generation, seq, Handler::del_batch, out);
  put_label(Label::value, out);
  put_tuple_header(batch.size(), out);
  for (const auto& [id, count] : batch) {
    put_byte(tag::tup2, out);
    encode_id_pack(id, out);
    put_u64(count, out);
  }
}

void encode_release_results(Generation generation, std::uint32_t seq, std::span<const std::uint32_t> seqs, Buffer& out) {
  encode_request_head(generation, seq, Handler::release_results, out);
  put_label(Label::value, out);
  put_tuple_header(seqs.size(), out);
  for (const auto released : seqs) put_int(static_cast<std::int64_t>(released), out);
}

void encode_promise(std::uint32_t seq, Buffer& out) {
  put_label(Label::promise, out);  // (LABEL_PROMISE, seq)
  put_int(static_cast<std::int64_t>(seq), out);
}

void encode_deadline_head(Generation generation, std::uint32_t seq, std::int64_t timeout_ms, std::int64_t inner,
                          Buffer& out) {
  encode_request_head(generation, seq, Handler::deadline, out);
  put_label(Label::tuple, out);  // the inner arguments may hold references: boxed items
  put_byte(tag::tup3, out);
  put_label(Label::value, out);
  put_int(timeout_ms, out);
  put_label(Label::value, out);
  put_int(inner, out);
}

void encode_cancel(Generation generation, std::uint32_t seq, std::uint32_t target_seq, Buffer& out) {
  encode_request_head(generation, seq, Handler::cancel, out);
  put_label(Label::value, out);
  put_tuple_header(1, out);
  put_int(static_cast<std::int64_t>(target_seq), out);
}

}  // namespace netref::detail::wire
