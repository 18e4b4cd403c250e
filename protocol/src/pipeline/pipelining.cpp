// Promise pipelining (feature `pipeline`, docs/PIPELINING.md): the caller's side (pipelined
// requests, releases of kept results) and the callee's (promises named as targets, the calls
// waiting on them, RELEASE_RESULTS).
#include "netref/protocol/pipeline.hpp"

#include <limits>
#include <string>

#include "../connection_impl.hpp"

namespace netref {
namespace detail {
namespace {

[[noreturn]] void promise_misplaced() {
  throw RemoteError("ValueError", "a pipelined reference (label 5) may only be a request's target");
}

std::uint32_t promise_seq(std::uint64_t seq) {
  if (seq > std::numeric_limits<std::uint32_t>::max()) {
    throw RemoteError("ValueError", "pipelined reference to request " + std::to_string(seq) +
                                        " is out of range (seqs are 32-bit)");
  }
  return static_cast<std::uint32_t>(seq);
}

/// A DEADLINE's boxed inner arguments, (LABEL_TUPLE, (timeout, handler, inner)): inner, or
/// null when the request is not of that shape (unwrap_deadline then says what is wrong).
Value* deadline_inner(Value& boxed) {
  auto* outer = boxed.get_if<Tuple>();
  if (outer == nullptr || outer->items.size() != 2 || outer->items[0] != Value(std::int64_t{2})) return nullptr;
  auto* items = outer->items[1].get_if<Tuple>();
  return items != nullptr && items->items.size() == 3 ? &items->items[2] : nullptr;
}

/// The general decoder's (LABEL_TUPLE, ((LABEL_PROMISE, seq), ...)): the promise taken out
/// before unboxing (which refuses one anywhere else), its slot left (LABEL_VALUE, None).
std::optional<std::uint32_t> take_boxed_promise(Value& boxed) {
  auto* outer = boxed.get_if<Tuple>();
  if (outer == nullptr || outer->items.size() != 2 || outer->items[0] != Value(std::int64_t{2})) return std::nullopt;
  auto* items = outer->items[1].get_if<Tuple>();
  auto* first = items != nullptr && !items->items.empty() ? items->items[0].get_if<Tuple>() : nullptr;
  if (first == nullptr || first->items.size() != 2 || first->items[0] != Value(std::int64_t{5})) return std::nullopt;
  std::optional<std::uint32_t> found;
  if (const auto* seq = first->items[1].get_if<std::int64_t>(); seq != nullptr && *seq >= 0) {
    found = promise_seq(static_cast<std::uint64_t>(*seq));
  } else if (first->items[1].get_if<BigInt>() != nullptr || seq != nullptr) {
    throw RemoteError("ValueError", "pipelined reference to request " + first->items[1].debug_string(40) +
                                        " is out of range (seqs are 32-bit)");
  } else {
    throw RemoteError("TypeError", "a pipelined reference names a request seq (an int), got " +
                                       std::string(first->items[1].type_name()));
  }
  items->items[0] = tuple_of(static_cast<std::int64_t>(Label::value), Value());
  return found;
}

/// With the last handle on a kept call: the peer may let its result go.
/// Releases of kept results queued before they ride with the next frame.
constexpr std::size_t kReleaseBatch = 64;

/// With the last handle on a kept call: the peer may let its result go. Made in place only.
struct KeptResult {
  KeptResult(std::weak_ptr<Connection> c, std::uint32_t s) noexcept : connection(std::move(c)), seq(s) {}
  ~KeptResult() { ConnectionImpl::release_kept(connection, seq); }
  KeptResult(const KeptResult&) = delete;
  KeptResult& operator=(const KeptResult&) = delete;
  std::weak_ptr<Connection> connection;
  std::uint32_t seq;
};

}  // namespace

// --- the caller's side

void ConnectionImpl::keep_token(PendingCall& call) {
  call.kept = std::make_shared<KeptResult>(self->weak_from_this(), call.seq);
}

void ConnectionImpl::release_kept(const std::weak_ptr<Connection>& connection, std::uint32_t seq) noexcept {
  if (auto conn = connection.lock()) conn->impl_->queue_result_release(seq);
}

void ConnectionImpl::queue_result_release(std::uint32_t seq) noexcept {
  if (!state.open()) return;  // closing lets every kept result go
  try {
    {
      std::lock_guard lk(dels_mutex);
      result_releases.push_back(seq);
      releases_queued.store(result_releases.size(), std::memory_order_relaxed);
      // A batch rides with the next frame; fewer leave with a sync request, a DEL (which
      // they precede) or the flush timer of a deferred request: a stream of async calls sends
      // one release message per batch, not one per call, and no write of its own. An idle
      // client leaves at most a batch of small entries kept (an object's goes with its DEL).
      if (result_releases.size() >= kReleaseBatch) dels_waiting.store(true, std::memory_order_release);
    }
  } catch (...) {
    // out of memory: the peer keeps the result until the connection closes
  }
}

bool ConnectionImpl::pipelinable(const AsyncResult& target) noexcept {
  return target.call_ && target.call_->kept && !target.call_->done.load(std::memory_order_acquire) &&
         target.connection_->impl_->state.open();
}

AsyncResult ConnectionImpl::failed_result(const AsyncResult& like, std::exception_ptr error) {
  auto call = std::make_shared<PendingCall>();
  call->complete(Value(), std::move(error));
  return AsyncResult(like.connection_, std::move(call));
}

AsyncResult ConnectionImpl::pipelined_async(const AsyncResult& target, std::span<const std::string> names,
                                            std::span<const Value> args, Kwargs kwargs,
                                            std::optional<std::chrono::milliseconds> timeout) {
  // The target stays held by the caller while this is sent: its release goes after it.
  const CallSpec call{nullptr, names, args, kwargs, target.call_->seq};
  RequestBody body{nullptr, &call};
  if (timeout && timeout->count() >= 0) body.deadline_ms = timeout->count();  // travels as its DEADLINE
  return target.connection_->impl_->async_request(call.handler(), body);
}

Value ConnectionImpl::pipelined_sync(const AsyncResult& target, std::span<const std::string> names,
                                     std::span<Value> args, Kwargs kwargs,
                                     std::optional<std::chrono::milliseconds> timeout) {
  const CallSpec call{nullptr, names, args, kwargs, target.call_->seq};
  return target.connection_->impl_->sync_request(call.handler(), RequestBody{nullptr, &call, args}, timeout);
}

// --- the callee's side

std::optional<std::uint32_t> ConnectionImpl::take_promise(RequestArgs& request_args, bool wrapped) {
  std::optional<std::uint32_t> found;
  if (request_args.args != nullptr) {  // read by BoxedReader: promises are among the refs
    // Where a target stands: the first argument, or a DEADLINE's first inner argument.
    const Value* front = request_args.args->empty() ? nullptr : &request_args.args->front();
    if (wrapped) {
      const Tuple* inner = request_args.args->size() == 3 ? (*request_args.args)[2].get_if<Tuple>() : nullptr;
      front = inner != nullptr && !inner->items.empty() ? &inner->items.front() : nullptr;
    }
    for (const auto& ref : request_args.refs) {
      if (ref.label != Label::promise) continue;
      if (found || front == nullptr || ref.slot != front) promise_misplaced();
      found = promise_seq(ref.object_id);
    }
  } else if (Value* boxed = wrapped ? deadline_inner(*request_args.boxed) : request_args.boxed; boxed != nullptr) {
    found = take_boxed_promise(*boxed);
  }
  if (found && !config.enable_extensions) {
    throw RemoteError("ValueError", "pipelining (label 5) is not enabled on this connection");
  }
  return found;
}

std::vector<std::shared_ptr<Answer>> ConnectionImpl::serve_release_results(Value& body) {
  Value list = unbox(std::move(body));
  auto* items = list.get_if<Tuple>();
  if (items == nullptr) throw ProtocolError("RELEASE_RESULTS must hold a tuple of seqs");
  std::vector<std::uint32_t> seqs;
  seqs.reserve(items->items.size());
  for (const auto& item : items->items) {
    const auto seq = expect_int(item, "RELEASE_RESULTS's seq");
    if (seq < 0 || seq > std::numeric_limits<std::uint32_t>::max()) {
      throw ProtocolError("RELEASE_RESULTS's seq " + std::to_string(seq) + " is out of range");
    }
    seqs.push_back(static_cast<std::uint32_t>(seq));
  }
  return answers.release(seqs);
}

void ConnectionImpl::drain(std::shared_ptr<Answer> answer) {
  // A worklist, not recursion: a long dependent chain must not deepen the stack. Calls on one
  // result run in arrival order, one after the other; each one's own waiting calls after them.
  // Most answers have none: then this is one look under the table's lock, no allocation.
  std::vector<std::shared_ptr<Answer>> work;
  std::size_t at = 0;
  for (;;) {
    DeferredCall call;
    Value target;
    std::exception_ptr error;
    if (answers.next_waiting(*answer, call, target, error)) {
      if (!error) call.args[0] = std::move(target);  // take_promise left its slot there
      finish_request(call.seq, call.handler, call.oneway, call.args, error, call.own, call.deadline, nullptr);
      if (call.own) work.push_back(std::move(call.own));
      continue;
    }
    if (at == work.size()) return;
    answer = std::move(work[at++]);
  }
}

}  // namespace detail

bool pipelinable(const AsyncResult& target) noexcept { return detail::ConnectionImpl::pipelinable(target); }

AsyncResult pipelined_async_call(const AsyncResult& target, std::span<const std::string> names,
                                 std::span<const Value> args, Kwargs kwargs,
                                 std::optional<std::chrono::milliseconds> timeout) {
  if (detail::ConnectionImpl::pipelinable(target)) {
    return detail::ConnectionImpl::pipelined_async(target, names, args, std::move(kwargs), timeout);
  }
  target.wait();  // a peer without `pipeline`, or the result is here: one round trip per dependency
  if (auto error = target.error()) return failed_async_result(target, std::move(error));
  const Value result = target.value();
  const auto* ref = result.get_if<RemoteRefPtr>();
  if (ref == nullptr || !*ref) {
    throw TypeError("a pipelined call needs a netref, got " + std::string(result.type_name()));
  }
  return (*ref)->async_call_path(names, args, std::move(kwargs), timeout);
}

Value pipelined_call(const AsyncResult& target, std::span<const std::string> names, std::span<Value> args,
                     Kwargs kwargs, std::optional<std::chrono::milliseconds> timeout) {
  if (detail::ConnectionImpl::pipelinable(target)) {
    return detail::ConnectionImpl::pipelined_sync(target, names, args, std::move(kwargs), timeout);
  }
  const Value result = target.value();  // throws target's error
  const auto* ref = result.get_if<RemoteRefPtr>();
  if (ref == nullptr || !*ref) {
    throw TypeError("a pipelined call needs a netref, got " + std::string(result.type_name()));
  }
  return (*ref)->call_path_releasing(names, args, std::move(kwargs), timeout);
}

AsyncResult failed_async_result(const AsyncResult& target, std::exception_ptr error) {
  return detail::ConnectionImpl::failed_result(target, std::move(error));
}

}  // namespace netref
