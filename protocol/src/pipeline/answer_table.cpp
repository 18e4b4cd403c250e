// AnswerTable (answer_table.hpp).
#include "answer_table.hpp"

#include <string>

#include "netref/protocol/errors.hpp"

namespace netref::detail {
namespace {
std::exception_ptr not_kept(std::uint32_t seq, std::size_t limit) {
  // The same words for a seq never sent, one already released and one past the limit: the
  // table keeps nothing that could tell them apart.
  return std::make_exception_ptr(RemoteError(
      "ReferenceError", "no pipelined result of request " + std::to_string(seq) +
                            " on this connection (never kept, already released, or not kept past "
                            "max_pipelined_results = " + std::to_string(limit) + ")"));
}
/// What a call waiting on answer fails with: its error, or for a plain result (no object, so
/// no target) a TypeError made only now: most results are plain and nothing waits on them.
std::exception_ptr failure_of(const Answer& answer) {
  if (answer.error || answer.plain_type.empty()) return answer.error;
  return std::make_exception_ptr(TypeError("the target of a request must be an object reference, got " +
                                           std::string(answer.plain_type) + " (the pipelined result)"));
}
}  // namespace

std::shared_ptr<Answer> AnswerTable::open(std::uint32_t seq) {
  std::lock_guard lk(mutex_);
  if (closed_ || answers_.size() >= limit_) return nullptr;
  auto answer = std::make_shared<Answer>();
  answers_[seq] = answer;
  return answer;
}

Attached AnswerTable::attach(std::uint32_t seq, DeferredCall& call, Value& target, std::exception_ptr& error) {
  std::lock_guard lk(mutex_);
  auto it = closed_ ? answers_.end() : answers_.find(seq);
  if (it == answers_.end()) {
    error = not_kept(seq, limit_);
    return Attached::failed;
  }
  Answer& answer = *it->second;
  if (answer.state == Answer::State::running || answer.draining) {
    if (waiting_ >= limit_) {
      error = std::make_exception_ptr(RemoteError(
          "RuntimeError", "too many pipelined calls waiting on this connection (max_pipelined_results = " +
                              std::to_string(limit_) + ")"));
      return Attached::failed;
    }
    answer.waiting.push_back(std::move(call));
    ++waiting_;
    return Attached::queued;
  }
  if (auto failure = failure_of(answer)) {
    error = std::move(failure);
    return Attached::failed;
  }
  target = answer.result;
  return Attached::ready;
}

bool AnswerTable::settle(Answer& answer, const Value& result, std::exception_ptr error) {
  std::lock_guard lk(mutex_);
  answer.state = Answer::State::done;
  if (error) {
    answer.error = std::move(error);
  } else if (result.kind() == Value::Kind::local_object || result.kind() == Value::Kind::remote_ref) {
    answer.result = result;
  } else {
    // Only an object can be a request's target: a plain result is not kept, its type is.
    answer.plain_type = result.type_name();  // the error, if a call ever names it: failure_of
  }
  answer.draining = answer.next < answer.waiting.size() && !closed_;
  return answer.draining;
}

bool AnswerTable::next_waiting(Answer& answer, DeferredCall& call, Value& target, std::exception_ptr& error) {
  std::vector<DeferredCall> done;  // what ran (moved-from), or once closed what never will: after the lock
  std::lock_guard lk(mutex_);
  if (answer.state == Answer::State::running && !closed_) return false;  // settle comes first (a deferred reply)
  if (answer.next == answer.waiting.size() || closed_) {
    answer.draining = false;
    done.swap(answer.waiting);
    answer.next = 0;
    return false;
  }
  call = std::move(answer.waiting[answer.next++]);
  --waiting_;
  error = failure_of(answer);
  if (!error) target = answer.result;
  return true;
}

std::vector<std::shared_ptr<Answer>> AnswerTable::release(std::span<const std::uint32_t> seqs) {
  std::vector<std::shared_ptr<Answer>> dropped;
  std::lock_guard lk(mutex_);
  for (const auto seq : seqs) {
    auto it = answers_.find(seq);
    if (it == answers_.end()) continue;
    dropped.push_back(std::move(it->second));
    answers_.erase(it);
  }
  return dropped;
}

void AnswerTable::close() noexcept {
  std::unordered_map<std::uint32_t, std::shared_ptr<Answer>> dropped;
  std::vector<std::vector<DeferredCall>> calls;  // may hold netrefs of the connection: no cycle stays
  {
    std::lock_guard lk(mutex_);
    closed_ = true;
    dropped.swap(answers_);
    for (auto& [seq, answer] : dropped) {
      calls.push_back(std::move(answer->waiting));
      answer->waiting.clear();
      answer->next = 0;
    }
    waiting_ = 0;
  }
}

std::size_t AnswerTable::kept() const {
  std::lock_guard lk(mutex_);
  return answers_.size();
}

std::size_t AnswerTable::waiting() const {
  std::lock_guard lk(mutex_);
  return waiting_;
}

}  // namespace netref::detail
