#pragma once
/// RPyC's protocol constants (rpyc/core/consts.py) and netref's extension handlers.
#include <array>
#include <cstdint>
#include <string_view>

namespace netref {

/// Message types: the first field of every message.
enum class MsgType : std::uint8_t { request = 1, reply = 2, exception = 3 };

/// Boxing labels: how a value travels inside a request or reply.
enum class Label : std::uint8_t {
  value = 1, tuple = 2, local_ref = 3, remote_ref = 4,
  promise = 5,  ///< netref extension (feature `pipeline`): (5, seq), the result of the sender's request seq
};

/// Request handlers. 1..20 are RPyC's; 64 and up are netref extensions, sent only to a peer
/// that answered `hello`.
enum class Handler : std::uint8_t {
  ping = 1, close = 2, getroot = 3, getattr = 4, delattr = 5, setattr = 6, call = 7,
  callattr = 8, repr = 9, str = 10, cmp = 11, hash = 12, dir = 13, pickle = 14, del = 15,
  inspect = 16, buffiter = 17, oldslicing = 18, ctxexit = 19, instancecheck = 20,
  // netref extensions
  hello = 64,       ///< (b"netref", version, features) -> same; proves the peer is netref
  callchain = 65,   ///< (obj, (name, ...), args, kwargs): getattr along names, then call
  getchain = 66,    ///< (obj, (name, ...)): getattr along names
  del_batch = 67,   ///< (((type, tid, oid), count), ...): many DELs in one message
  deadline = 68,    ///< (timeout_ms, handler, args): handler's request, to run within timeout_ms
  cancel = 69,      ///< (seq,): one-way; stop the request seq that this peer sent, if it runs
  release_results = 70,  ///< (seq, ...): one-way; results kept for pipelining are let go
};

/// Which message envelope the connection speaks (rpyc issue #552).
enum class Generation : std::uint8_t {
  v5 = 5,  ///< rpyc 4.1 to 5.3: brine (msg, seq, body)
  v6 = 6,  ///< rpyc 6.x: one raw msg byte, then brine (seq, body)
};

/// The int vinegar sends instead of a tuple for StopIteration.
inline constexpr std::int64_t exc_stop_iteration = 1;

/// The extension protocol version this build speaks in `hello`.
inline constexpr std::int64_t extension_version = 1;

/// The extension features a netref peer may list in `hello` (a tuple of str). Each side uses
/// a feature only when both listed it; Python peers list nothing (they answer hello with an
/// exception) and get plain rpyc. CALLCHAIN, GETCHAIN and DEL batches need only hello.
enum class Feature : std::uint8_t {
  oneway,    ///< requests flagged one-way get no reply (oneway_handler_bit)
  pipeline,  ///< calls on a pending result (Label::promise, pipeline_keep_bit); docs/PIPELINING.md
  deadline,  ///< a request may travel wrapped in DEADLINE (68) with a relative timeout
  cancel,    ///< CANCEL (69) asks the peer to stop a request it serves for us
};

/// Each Feature's name in hello, indexed by the enum; the features this build lists.
inline constexpr std::array<std::string_view, 4> feature_names = {"oneway", "pipeline", "deadline", "cancel"};

/// The largest timeout a DEADLINE request may carry: 2^31 - 1 ms (about 24.8 days). A
/// longer one (or a negative one) gets a ValueError reply; the connection stays.
inline constexpr std::int64_t max_deadline_ms = 2147483647;

/// The name of the `oneway` feature.
inline constexpr const char* feature_oneway = "oneway";

/// One-way requests (feature `oneway`): CALL, CALLATTR or CALLCHAIN with this bit added to
/// the handler number (135, 136, 193) runs that handler and sends no reply, not even an
/// exception. Sent only to a peer that listed `oneway`; to any other peer a one-way call is
/// an ordinary request whose reply is dropped on arrival.
inline constexpr std::int64_t oneway_handler_bit = 0x80;

/// Promise pipelining (feature `pipeline`, docs/PIPELINING.md): CALL, CALLATTR, CALLCHAIN,
/// GETATTR or GETCHAIN with this added to the handler number (263, 264, 321, 260, 322) runs
/// as usual and the peer keeps its result, so that later requests may name it as their target
/// with (Label::promise, seq) before the reply arrives; RELEASE_RESULTS lets it go.
inline constexpr std::int64_t pipeline_keep_bit = 0x100;

}  // namespace netref
