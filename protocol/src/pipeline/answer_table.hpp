#pragma once
// The answers table (feature `pipeline`): results of the peer's requests that it asked us to
// keep, so that its later requests may name them as their target before our reply reaches it.
// After Cap'n Proto's answers table; docs/PIPELINING.md has the wire form.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "netref/protocol/consts.hpp"
#include "netref/protocol/object.hpp"
#include "netref/protocol/value.hpp"
#include "../request_deadline.hpp"

namespace netref::detail {

struct Answer;

/// A request that names a result still being computed: it waits in that result's Answer and
/// runs, in arrival order, once the result is there (or fails with its error).
struct DeferredCall {
  std::uint32_t seq = 0;
  Handler handler = Handler::call;
  bool oneway = false;
  Args args;                       // args[0] is the target, filled in when it runs
  std::shared_ptr<Answer> own;     // its own kept result, when the peer asked for one
  RequestDeadline deadline;        // not run once past it (feature `deadline`)
};

/// One kept result. Guarded by the table's mutex.
struct Answer {
  enum class State { running, done };
  State state = State::running;  // done: the handler returned or threw
  Value result;                  // done without error: the object (a netref's target)
  std::exception_ptr error;      // done with an error: what the request failed with
  std::string_view plain_type;   // done with a plain result (not a target): its type's name
  // Requests naming this result, in arrival order, from waiting[next] on. A vector: an
  // empty one allocates nothing, and most answers never see a waiting call.
  std::vector<DeferredCall> waiting;
  std::size_t next = 0;
  bool draining = false;         // a thread is running `waiting`; new arrivals queue behind
};

/// What a request naming a kept result gets (AnswerTable::attach).
enum class Attached {
  ready,   // target holds the result: run now
  failed,  // error holds the error to fail with: the target's own, or why there is none
  queued,  // the call waits in the answer; whoever finishes the target runs it
};

/// The results kept for the peer, by the seq of its request. Each has its own lock, taken
/// briefly; nothing runs under it. At most `limit` results are kept and at most `limit`
/// requests wait at once; past that a kept request is not kept and a waiting one fails.
class AnswerTable {
 public:
  explicit AnswerTable(std::size_t limit) noexcept : limit_(limit) {}

  /// The peer's request seq starts and asked to be kept: its answer, filed (a stale one under
  /// the same seq is replaced). Null past the limit or once closed: the request runs unkept,
  /// and requests naming it fail.
  std::shared_ptr<Answer> open(std::uint32_t seq);
  /// A request naming the result of seq: ready (target set), failed (error set), or queued
  /// (call moved into the answer; runs after the results before it).
  Attached attach(std::uint32_t seq, DeferredCall& call, Value& target, std::exception_ptr& error);
  /// The request of answer finished with result or error. True when calls wait on it: the
  /// caller must drain it (next_waiting until false).
  bool settle(Answer& answer, const Value& result, std::exception_ptr error);
  /// The next call waiting on a settled answer, with its target (or the error to fail it
  /// with); false when none is left, which ends the drain, or while answer still runs (a
  /// deferred reply settles it later, and drains it then).
  bool next_waiting(Answer& answer, DeferredCall& call, Value& target, std::exception_ptr& error);
  /// The peer lets go of seqs' results: forgotten (calls already waiting still run).
  /// Unknown seqs are ignored: a result past the limit was never kept.
  /// Returns them, for the caller to drop where user code may run.
  std::vector<std::shared_ptr<Answer>> release(std::span<const std::uint32_t> seqs);
  /// The connection closed: every answer and waiting call is dropped, outside the lock.
  void close() noexcept;

  std::size_t kept() const;
  std::size_t waiting() const;
  std::size_t limit() const noexcept { return limit_; }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::uint32_t, std::shared_ptr<Answer>> answers_;
  std::size_t waiting_ = 0;  // DeferredCalls in every answer
  bool closed_ = false;
  const std::size_t limit_;
};

}  // namespace netref::detail
