// Deadlines and cancellation (features `deadline` and `cancel`): the per-request context a
// handler reads, DEADLINE requests unwrapped on arrival, CANCEL served and sent, and the
// local expiry of async calls on the timer queue.
#include "netref/protocol/request_context.hpp"

#include <memory>
#include <string>

#include "connection_impl.hpp"
#include "wire/messages.hpp"

namespace netref {
namespace {
using Clock = std::chrono::steady_clock;
constexpr auto kNone = Clock::time_point::max();

}  // namespace

constinit thread_local RequestContext* detail::current_request = nullptr;

// ---------------------------------------------------------------------------------------------
// RequestContext

std::optional<Clock::time_point> RequestContext::deadline() const noexcept {
  if (deadline_ == kNone) return std::nullopt;
  return deadline_;
}

std::optional<std::chrono::milliseconds> RequestContext::remaining() const noexcept {
  if (deadline_ == kNone) return std::nullopt;
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline_ - Clock::now());
  return left.count() > 0 ? left : std::chrono::milliseconds(0);
}

bool RequestContext::expired() const noexcept { return deadline_ != kNone && Clock::now() >= deadline_; }

std::stop_token RequestContext::stop_token() {
  auto* source = stop_.load(std::memory_order_seq_cst);
  if (source == nullptr) {
    auto made = std::make_unique<std::stop_source>();
    if (stop_.compare_exchange_strong(source, made.get(), std::memory_order_seq_cst)) source = made.release();
    // else: another stop_token() on this thread cannot race; source holds the winner anyway
  }
  if (cancelled_.load(std::memory_order_seq_cst)) source->request_stop();  // a cancel that came first
  return source->get_token();
}

bool RequestContext::stop_requested() const noexcept { return cancelled_.load(std::memory_order_acquire); }

std::optional<std::stop_source> RequestContext::mark_cancelled() noexcept {
  if (cancelled_.exchange(true, std::memory_order_seq_cst)) return std::nullopt;
  auto* source = stop_.load(std::memory_order_seq_cst);
  if (source == nullptr) return std::nullopt;  // stop_token() will see cancelled_
  return *source;  // a copy shares the stop state: it stays valid after this context goes
}

void RequestContext::drop_stop() noexcept { delete stop_.exchange(nullptr, std::memory_order_acq_rel); }

void RequestContext::request_stop() noexcept {
  if (auto source = mark_cancelled()) source->request_stop();  // stop callbacks: no lock held
}

// ---------------------------------------------------------------------------------------------
// Serving: DEADLINE and CANCEL

namespace detail {

CallTimeout call_timeout(std::optional<std::chrono::milliseconds> own, std::chrono::milliseconds fallback,
                         bool fallback_travels) noexcept {
  CallTimeout out{own.value_or(fallback), -1};
  if (own || fallback_travels) out.travel_ms = out.wait.count();
  if (const RequestContext* request = detail::current_request) {
    // A handler's call inherits what is left of its own deadline, and passes it on.
    if (auto left = request->remaining()) {
      if (out.wait.count() < 0 || *left < out.wait) out.wait = *left;
      if (out.travel_ms < 0 || left->count() < out.travel_ms) out.travel_ms = left->count();
    }
  }
  if (out.travel_ms > max_deadline_ms) out.travel_ms = max_deadline_ms;
  if (out.travel_ms < 0) out.travel_ms = -1;
  return out;
}

std::chrono::milliseconds ConnectionImpl::unwrap_deadline(Args& args, std::int64_t& number,
                                                         Clock::time_point& deadline) {
  // (timeout_ms, inner handler, inner args): checked before anything runs.
  if (args.size() != 3) {
    throw TypeError("DEADLINE takes (timeout_ms, handler, args), got " + std::to_string(args.size()) + " items");
  }
  const auto* timeout = args[0].get_if<std::int64_t>();
  if (timeout == nullptr) {
    throw TypeError("DEADLINE's timeout must be an int of milliseconds, got " + std::string(args[0].type_name()));
  }
  if (*timeout < 0 || *timeout > max_deadline_ms) {
    throw ValueError("DEADLINE's timeout of " + std::to_string(*timeout) + " ms is outside 0.." +
                     std::to_string(max_deadline_ms));
  }
  const auto* inner = args[1].get_if<std::int64_t>();
  if (inner == nullptr) {
    throw TypeError("DEADLINE's handler must be an int, got " + std::string(args[1].type_name()));
  }
  // Any request handler but the bookkeeping ones, DEADLINE itself and one-way flags; a call
  // or getattr may ask to be kept for pipelining (pipeline_keep_bit), stripped by the caller.
  const bool kept = *inner > pipeline_keep_bit && *inner < 2 * pipeline_keep_bit;
  const std::int64_t plain = kept ? *inner - pipeline_keep_bit : *inner;
  const bool allowed = (plain >= 1 && plain <= 20) || plain == static_cast<int>(Handler::callchain) ||
                       plain == static_cast<int>(Handler::getchain);
  const bool keepable = plain == static_cast<int>(Handler::call) || plain == static_cast<int>(Handler::callattr) ||
                        plain == static_cast<int>(Handler::callchain) ||
                        plain == static_cast<int>(Handler::getattr) || plain == static_cast<int>(Handler::getchain);
  if (!allowed || plain == static_cast<int>(Handler::close) || plain == static_cast<int>(Handler::del) ||
      (kept && !keepable)) {
    throw ValueError("DEADLINE cannot carry handler " + std::to_string(*inner));
  }
  auto* items = args[2].get_if<Tuple>();
  if (items == nullptr) {
    throw TypeError("DEADLINE's arguments must be a tuple, got " + std::string(args[2].type_name()));
  }
  // Counted from when the request reached us: when it was read, or before that, when it
  // already waited whole in our buffer behind another request. The peer's clock plays no part.
  auto arrived = channel->handed_buffered_at();
  if (arrived == Clock::time_point{}) arrived = Clock::now();
  const std::chrono::milliseconds ms(*timeout);
  deadline = arrived + ms;
  number = *inner;
  Args inner_args = std::move(items->items);
  args = std::move(inner_args);
  return ms;
}

void ConnectionImpl::serve_cancel(std::uint32_t seq, RequestArgs& request_args, ReaderRole& role) {
  Args unboxed;
  std::exception_ptr error;
  std::optional<std::stop_source> source;
  try {
    Args& args = take_args(request_args, unboxed);
    const auto* target = args.size() == 1 ? args[0].get_if<std::int64_t>() : nullptr;
    if (target == nullptr || *target < 0 || *target > 0xffffffffll) {
      throw TypeError("CANCEL takes (seq,) with seq an int in 0..4294967295");
    }
    // A request that ended (or never ran, or waits on a pipelined target) is not found: the
    // cancel is ignored. Marked under state_mutex with its slot pinned: it cannot end meanwhile.
    std::lock_guard lk(state_mutex);
    serving.with_context(static_cast<std::uint32_t>(*target),
                         [&](RequestContext& request) noexcept { source = request.mark_cancelled(); });
  } catch (const ProtocolError&) {
    throw;  // a reference that does not resolve: as on any request, the connection ends
  } catch (...) {
    error = std::current_exception();
  }
  role.release();
  if (source) source->request_stop();  // its stop callbacks are user code: after the reader role
  // One-way when well formed; a malformed one is answered (a netref sender drops the answer
  // as late), so a hostile or buggy peer learns what was wrong and the connection stays.
  if (error) send_exception(seq, error, "CANCEL");
}

void ConnectionImpl::send_cancel(std::uint32_t target_seq) noexcept {
  if (!peer_has(Feature::cancel) || !state.open()) return;  // a Python peer: cancel stays local
  try {
    std::vector<std::uint8_t> frame;
    std::uint32_t seq;
    {
      std::lock_guard lk(state_mutex);
      seq = pending.issue_unanswered();
    }
    wire::encode_cancel(generation.load(std::memory_order_relaxed), seq, target_seq, frame);
    channel->enqueue(frame);
    frames_out.fetch_add(1, std::memory_order_relaxed);
    bytes_out.fetch_add(frame.size(), std::memory_order_relaxed);
    // Never waits on the peer: what the transport does not take now leaves with the next
    // write on this connection.
    if (channel->flush() == Flush::blocked) output_blocked();
  } catch (...) {
    // the link is gone, or out of memory for a few bytes: the cancel is only advice
  }
}

bool ConnectionImpl::cancel_call(const std::shared_ptr<PendingCall>& call, std::exception_ptr error) {
  const std::uint32_t seq = call->seq;  // set once at registration
  if (!settle_locally(call, std::move(error))) return false;
  send_cancel(seq);
  return true;
}

void ConnectionImpl::arm_expiry(const std::shared_ptr<PendingCall>& call, std::chrono::milliseconds timeout) {
  const auto due = Clock::now() + timeout;
  std::lock_guard lk(state_mutex);
  call->expiry = due;
  if (call->done.load(std::memory_order_relaxed)) return;
  if (!call->expiry_timer) {
    // Settles the call with Timeout at its expiry even if nobody waits on it: its
    // then-callbacks run on the timer thread, and a netref peer is told to cancel.
    call->expiry_timer = std::make_unique<Timer>(
        shared_timer_queue(),
        [weak_conn = std::weak_ptr<Connection>(self->shared_from_this()), weak_call = std::weak_ptr<PendingCall>(call)] {
          auto conn = weak_conn.lock();
          auto pending_call = weak_call.lock();
          if (!conn || !pending_call) return;
          {
            std::lock_guard lock(conn->impl_->state_mutex);
            if (pending_call->done.load(std::memory_order_relaxed)) return;
            if (Clock::now() < pending_call->expiry) return;  // moved later meanwhile: armed again
          }
          conn->impl_->cancel_call(pending_call,
                                   std::make_exception_ptr(Timeout("async call expired before its reply arrived")));
        });
  }
  call->expiry_timer->arm(due);
}

}  // namespace detail
}  // namespace netref
