#pragma once
// Message builders, one per message netref sends, each named after it. Every builder appends
// to out (a caller's reusable buffer) and writes what rpyc writes for the same message in the
// generation given: rpyc 5.x `(msg, seq, body)`, rpyc 6.x `msg` then `(seq, body)`.
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "netref/protocol/consts.hpp"
#include "netref/protocol/remote_ref.hpp"
#include "writer.hpp"

namespace netref::detail::wire {

/// A message's envelope up to its body: the body (one brine value) follows.
void encode_message_head(Generation generation, MsgType type, std::uint32_t seq, Buffer& out);

/// A request up to its boxed arguments: the envelope, then `(handler, `. The caller appends
/// the arguments boxed (a `(label, value)` pair), which closes the request.
void encode_request_head(Generation generation, std::uint32_t seq, Handler handler, Buffer& out);
/// The same with a handler number that carries flag bits (oneway_handler_bit, pipeline_keep_bit).
void encode_request_head(Generation generation, std::uint32_t seq, std::int64_t handler_number, Buffer& out);

/// A reply's envelope: one boxed value follows.
inline void encode_reply_head(Generation generation, std::uint32_t seq, Buffer& out) {
  encode_message_head(generation, MsgType::reply, seq, out);
}

/// An exception's envelope: a vinegar value (not boxed) follows.
inline void encode_exception_head(Generation generation, std::uint32_t seq, Buffer& out) {
  encode_message_head(generation, MsgType::exception, seq, out);
}

/// An id_pack: the brine 3-tuple (type name, type id, object id); ids past int64 go as big
/// ints. Throws ProtocolError for a type name that is not valid UTF-8.
void encode_id_pack(const IdPack& id, Buffer& out);

/// GETROOT: a request with no arguments.
void encode_getroot(Generation generation, std::uint32_t seq, Buffer& out);

/// PING with its payload, which the peer echoes back.
void encode_ping(Generation generation, std::uint32_t seq, std::string_view payload, Buffer& out);

/// CLOSE: a request with no arguments, which nobody waits for.
void encode_close(Generation generation, std::uint32_t seq, Buffer& out);

/// HELLO (netref extension 64): `(b"netref", extension_version, ("oneway", "deadline",
/// "cancel"))`: the features this build uses.
void encode_hello(Generation generation, std::uint32_t seq, Buffer& out);

/// RPyC's DEL: the peer's object id, received count times, is let go. The arguments are
/// `(LABEL_TUPLE, ((LABEL_LOCAL_REF, id_pack), (LABEL_VALUE, count)))`.
void encode_del(Generation generation, std::uint32_t seq, const IdPack& id, std::uint64_t count, Buffer& out);

/// DEL_BATCH (netref extension 67): many DELs, `(LABEL_VALUE, ((id_pack, count), ...))`.
void encode_del_batch(Generation generation, std::uint32_t seq,
                      std::span<const std::pair<IdPack, std::uint64_t>> batch, Buffer& out);

/// RELEASE_RESULTS (netref extension 70, feature `pipeline`): one-way, the results of our
/// requests seqs that the peer kept for pipelining are let go: `(LABEL_VALUE, (seq, ...))`.
void encode_release_results(Generation generation, std::uint32_t seq, std::span<const std::uint32_t> seqs, Buffer& out);

/// A promise, `(LABEL_PROMISE, seq)`: the result of our request seq (feature `pipeline`).
void encode_promise(std::uint32_t seq, Buffer& out);

/// DEADLINE (netref extension 68, feature `deadline`) up to the inner request's boxed
/// arguments: the envelope, then `(68, (LABEL_TUPLE, ((LABEL_VALUE, timeout_ms),
/// (LABEL_VALUE, inner), ` and the caller appends the inner request's boxed arguments (one
/// `(label, value)` pair), which closes the message. timeout_ms is relative: the peer counts
/// it from when the request reached it. inner is a handler number, with pipeline_keep_bit
/// when the peer is to keep the result.
void encode_deadline_head(Generation generation, std::uint32_t seq, std::int64_t timeout_ms, std::int64_t inner,
                          Buffer& out);

/// CANCEL (netref extension 69, feature `cancel`): `(69, (LABEL_VALUE, (target_seq,)))`,
/// one-way: the peer stops its request target_seq if it still runs, and answers nothing.
void encode_cancel(Generation generation, std::uint32_t seq, std::uint32_t target_seq, Buffer& out);

}  // namespace netref::detail::wire
