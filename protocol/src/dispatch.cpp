// The request handlers: what a peer may ask of the objects we lend.
#include <algorithm>
#include <string>

#include "connection_impl.hpp"
#include "forwarding_object.hpp"
#include "netref/protocol/brine.hpp"
#include "netref/protocol/deferred_result.hpp"
#include "netref/protocol/request_context.hpp"
#include "wire/messages.hpp"

namespace netref {
namespace detail {
const char* handler_display_name(Handler h);
}  // namespace detail

namespace {

constexpr std::size_t max_name_bytes = 4096;

thread_local std::size_t serving_depth = 0;

/// The one name check every name-taking handler goes through (docs/FAULTS.md R2): the name
/// (pointing into v) without rpyc's exposed prefix.
std::string_view attr_name(const Value& v, std::string_view exposed_prefix) {
  std::string_view name;
  if (auto* s = v.get_if<std::string>()) {
    name = *s;
  } else if (auto* b = v.get_if<Bytes>()) {
    name = b->data;
  } else {
    throw TypeError("an attribute name must be a str, got " + std::string(v.type_name()));
  }
  if (name.size() > max_name_bytes) {
    throw AttributeError("attribute name of " + std::to_string(name.size()) + " bytes exceeds the limit of " +
                         std::to_string(max_name_bytes));
  }
  if (!exposed_prefix.empty() && name.starts_with(exposed_prefix)) name.remove_prefix(exposed_prefix.size());
  if (name.empty()) throw AttributeError("empty attribute name");
  if (name.find('\0') != std::string_view::npos) throw AttributeError("attribute name contains a NUL byte");
  return name;
}

ObjectPtr target_of(const Value& v) {
  if (auto* local = v.get_if<ObjectPtr>(); local != nullptr && *local) return *local;
  if (auto* remote = v.get_if<RemoteRefPtr>(); remote != nullptr && *remote) {
    return std::make_shared<detail::ForwardingObject>(*remote);
  }
  throw TypeError("the target of a request must be an object reference, got " + std::string(v.type_name()));
}

Args tuple_items(Value& v, const char* what) {
  if (auto* t = v.get_if<Tuple>()) return std::move(t->items);
  throw TypeError(std::string(what) + " must be a tuple, got " + std::string(v.type_name()));
}

Kwargs kwargs_of(Value& v) {
  Kwargs out;
  if (v.is_none()) return out;
  auto* t = v.get_if<Tuple>();
  if (t == nullptr) throw TypeError("keyword arguments must be a tuple of (name, value) pairs");
  out.reserve(t->items.size());
  for (auto& item : t->items) {
    auto* pair = item.get_if<Tuple>();
    if (pair == nullptr || pair->items.size() != 2) throw TypeError("a keyword argument must be a (name, value) pair");
    auto* key = pair->items[0].get_if<std::string>();
    if (key == nullptr) throw TypeError("a keyword argument's name must be a str");
    out.emplace_back(std::move(*key), std::move(pair->items[1]));
  }
  return out;
}

Value strings_tuple(const std::vector<std::string>& names) {
  Tuple t;
  t.items.reserve(names.size());
  for (const auto& n : names) t.items.emplace_back(n);
  return Value(std::move(t));
}

}  // namespace

/// Walks getattr along names[0..steps) from start, each step shown to the interceptor as
/// the GETATTR it replaces.
ObjectPtr detail::ConnectionImpl::walk_chain(ObjectPtr start, const Args& names, std::size_t steps) {
  for (std::size_t i = 0; i < steps; ++i) {
    auto name = attr_name(names[i], config.exposed_prefix);
    intercept(Handler::getattr, start.get(), name);
    Value next = start->getattr(name);
    start = target_of(next);
  }
  return start;
}

void detail::ConnectionImpl::intercept(Handler handler, const Object* target, std::string_view attribute) {
  if (!config.interceptor) return;
  const RequestInfo info{handler, target != nullptr ? target->type_name() : std::string_view(), attribute, *self};
  config.interceptor(info);
}

Value detail::ConnectionImpl::run_handler(Handler handler, Args& args, std::size_t* slot) {
  // served_metrics' label: a root attribute (the service's names); anything else is other.
  auto label = [&](const ObjectPtr& target, std::string_view name) {
    if (slot != nullptr && target.get() == root_identity) *slot = config.served_metrics->slot_of(name);
  };
  auto arg = [&](std::size_t i) -> Value& {
    if (i >= args.size()) {
      throw TypeError(std::string(detail::handler_display_name(handler)) + " takes at least " +
                      std::to_string(i + 1) + " arguments, got " + std::to_string(args.size()));
    }
    return args[i];
  };
  auto optional_arg = [&](std::size_t i) -> Value { return i < args.size() ? std::move(args[i]) : Value(); };

  switch (handler) {
    case Handler::ping:
      intercept(handler, nullptr, {});
      return std::move(arg(0));
    case Handler::getroot: {
      ObjectPtr root;
      {
        std::lock_guard lk(tables_mutex);  // closing drops the root
        root = local_root;
      }
      intercept(handler, root.get(), {});
      if (!root) throw AttributeError("this peer exposes no root object");
      return Value(std::move(root));
    }
    case Handler::getattr: {
      auto target = target_of(arg(0));
      auto name = attr_name(arg(1), config.exposed_prefix);
      intercept(handler, target.get(), name);
      label(target, name);
      return target->getattr(name);
    }
    case Handler::setattr: {
      auto target = target_of(arg(0));
      auto name = attr_name(arg(1), config.exposed_prefix);
      intercept(handler, target.get(), name);
      label(target, name);
      target->setattr(name, std::move(arg(2)));
      return Value();
    }
    case Handler::delattr: {
      auto target = target_of(arg(0));
      auto name = attr_name(arg(1), config.exposed_prefix);
      intercept(handler, target.get(), name);
      target->delattr(name);
      return Value();
    }
    case Handler::call: {
      auto target = target_of(arg(0));
      intercept(handler, target.get(), {});
      Value kw = optional_arg(2);
      return target->call(tuple_items(arg(1), "call arguments"), kwargs_of(kw));
    }
    case Handler::callattr: {
      auto target = target_of(arg(0));
      auto name = attr_name(arg(1), config.exposed_prefix);
      intercept(handler, target.get(), name);
      label(target, name);
      Value kw = optional_arg(3);
      return target->callattr(name, tuple_items(arg(2), "call arguments"), kwargs_of(kw));
    }
    case Handler::repr: {
      auto target = target_of(arg(0));
      intercept(handler, target.get(), {});
      return Value(target->repr());
    }
    case Handler::str: {
      auto target = target_of(arg(0));
      intercept(handler, target.get(), {});
      return Value(target->str());
    }
    case Handler::hash: {
      auto target = target_of(arg(0));
      intercept(handler, target.get(), {});
      return Value(target->hash());
    }
    case Handler::cmp: {
      auto target = target_of(arg(0));
      Value op = optional_arg(2);
      std::string name = op.is_none() ? std::string("__cmp__") : std::string(attr_name(op, config.exposed_prefix));
      intercept(handler, target.get(), name);
      return target->compare(name, arg(1));
    }
    case Handler::dir: {
      auto target = target_of(arg(0));
      intercept(handler, target.get(), {});
      return strings_tuple(target->dir());
    }
    case Handler::inspect: {
      auto object = lookup_lent(arg(0));
      intercept(handler, object.get(), {});
      Tuple methods;
      for (auto& [name, doc] : object->inspect()) methods.items.push_back(tuple_of(std::move(name), std::move(doc)));
      return Value(std::move(methods));
    }
    case Handler::buffiter: {
      auto target = target_of(arg(0));
      intercept(handler, target.get(), {});
      const auto count = detail::expect_int(arg(1), "BUFFITER's count");
      if (count < 0) throw ValueError("BUFFITER's count must not be negative");
      return Value(Tuple{target->next_items(static_cast<std::size_t>(count))});
    }
    case Handler::ctxexit: {
      auto target = target_of(arg(0));
      intercept(handler, target.get(), "__exit__");
      return target->callattr("__exit__", {optional_arg(1), Value(), Value()}, {});
    }
    case Handler::instancecheck:
      return Value(false);
    case Handler::pickle:
      throw ValueError("pickling is disabled");
    case Handler::oldslicing:
      throw TypeError("old-style slicing is not supported");
    case Handler::hello:
      if (!config.enable_extensions) break;
      note_peer_features(optional_arg(2));
      peer_netref.store(true, std::memory_order_release);
      return tuple_of(Bytes{"netref"}, extension_version, our_features());
    case Handler::callchain: {
      if (!config.enable_extensions) break;
      Args names = tuple_items(arg(1), "a call chain");
      if (names.empty()) throw TypeError("a call chain needs at least one name");
      auto target = walk_chain(target_of(arg(0)), names, names.size() - 1);
      auto name = attr_name(names.back(), config.exposed_prefix);
      intercept(Handler::callattr, target.get(), name);
      label(target, name);
      Value kw = optional_arg(3);
      return target->callattr(name, tuple_items(arg(2), "call arguments"), kwargs_of(kw));
    }
    case Handler::getchain: {
      if (!config.enable_extensions) break;
      Args names = tuple_items(arg(1), "an attribute chain");
      if (names.empty()) throw TypeError("an attribute chain needs at least one name");
      auto target = walk_chain(target_of(arg(0)), names, names.size() - 1);
      auto name = attr_name(names.back(), config.exposed_prefix);
      intercept(Handler::getattr, target.get(), name);
      label(target, name);
      return target->getattr(name);
    }
    case Handler::close:
    case Handler::del:
    case Handler::del_batch:
    case Handler::release_results:
    case Handler::deadline:
    case Handler::cancel:
      break;  // handled before dispatch
  }
  throw RemoteError("NotImplementedError",
                    "unknown request handler " + std::to_string(static_cast<int>(handler)));
}

// CLOSE, DEL and DEL_BATCH: handled in wire order, under the reader role. False for any
// other handler.
bool detail::ConnectionImpl::serve_special(std::uint32_t seq, Handler handler, Value& body,
                                     detail::ReaderRole& role) {
  if (handler == Handler::close) {
    role.release();  // the close handler is user code
    fail(std::make_exception_ptr(ConnectionClosed("the peer closed the connection")), CloseReason::peer);
    return true;
  }
  if (handler == Handler::del) {
    // (LABEL_TUPLE, ((LABEL_LOCAL_REF, id_pack), (LABEL_VALUE, count)))
    auto* boxed = body.get_if<Tuple>();
    auto* inner = boxed != nullptr && boxed->items.size() == 2 ? boxed->items[1].get_if<Tuple>() : nullptr;
    auto* ref = inner != nullptr && !inner->items.empty() ? inner->items[0].get_if<Tuple>() : nullptr;
    if (ref == nullptr || ref->items.size() != 2 || detail::expect_int(ref->items[0], "DEL's label") != 3) {
      throw ProtocolError("DEL must name an object this side lent");
    }
    std::uint64_t count = 1;
    if (inner->items.size() > 1) {
      Value c = unbox(std::move(inner->items[1]));
      const auto n = detail::expect_int(c, "DEL's count");
      if (n < 0) throw ProtocolError("DEL's count must not be negative");
      count = static_cast<std::uint64_t>(n);
    }
    ObjectPtr dropped = release_lent(ref->items[1], count);
    role.release();
    dropped.reset();  // its destructor is user code: after the reader role is given back
    detail::FrameBuffer reply;
    encode_reply(seq, Value(), reply);
    send_frame(reply);  // rpyc peers keep a callback per seq until answered
    return true;
  }
  if (handler == Handler::del_batch && config.enable_extensions) {
    Value list = unbox(std::move(body));
    auto* items = list.get_if<Tuple>();
    if (items == nullptr) throw ProtocolError("DEL_BATCH must hold a tuple");
    std::vector<ObjectPtr> dropped;  // destroyed after the reader role is given back
    for (auto& entry : items->items) {
      auto* pair = entry.get_if<Tuple>();
      if (pair == nullptr || pair->items.size() != 2) throw ProtocolError("DEL_BATCH entries are (id_pack, count)");
      const auto n = detail::expect_int(pair->items[1], "DEL_BATCH's count");
      if (n < 0) throw ProtocolError("DEL_BATCH's count must not be negative");
      if (auto object = release_lent(pair->items[0], static_cast<std::uint64_t>(n))) dropped.push_back(std::move(object));
    }
    role.release();
    return true;  // one-way: no reply
  }
  if (handler == Handler::release_results && config.enable_extensions) {
    auto dropped = serve_release_results(body);  // kept results: user objects, dropped below
    role.release();
    return true;  // one-way: no reply
  }
  return false;
}

void detail::ConnectionImpl::handle_request(std::uint32_t seq, Value&& body, detail::ReaderRole& role) {
  auto* t = body.get_if<Tuple>();
  if (t == nullptr || t->items.size() != 2) {
    throw ProtocolError("a request body must be a (handler, args) pair, got " + body.debug_string(60));
  }
  const auto number = detail::expect_int(t->items[0], "the request handler");
  if (number >= 0 && number <= 255) {
    if (serve_special(seq, static_cast<Handler>(number), t->items[1], role)) return;
  }
  serve_request(seq, number, detail::RequestArgs{&t->items[1], nullptr, {}}, role);
}

namespace {
// The requests whose result a peer may ask us to keep for pipelining (pipeline_keep_bit).
/// The handler's name in an error reply.
const char* request_context_name(Handler handler) {
  const int number = static_cast<int>(handler);
  return (number >= 1 && number <= 20) || (number >= 64 && number <= 70) ? detail::handler_display_name(handler)
                                                                         : "an unknown handler";
}

bool keeps_result(std::int64_t number) {
  switch (number) {
    case static_cast<int>(Handler::call):
    case static_cast<int>(Handler::callattr):
    case static_cast<int>(Handler::callchain):
    case static_cast<int>(Handler::getattr):
    case static_cast<int>(Handler::getchain):
      return true;
    default:
      return false;
  }
}
}  // namespace

void detail::ConnectionImpl::serve_request(std::uint32_t seq, std::int64_t number, detail::RequestArgs request_args,
                                     detail::ReaderRole& role) {
  // A kept request (feature `pipeline`): it runs as usual, and its result stays for the
  // peer's pipelined calls until it releases it.
  bool keep = false;
  if (config.enable_extensions && number > 255 && keeps_result(number - pipeline_keep_bit)) {
    keep = true;
    number -= pipeline_keep_bit;
  }
  if (number < 0 || number > 255) {  // would alias a real handler once narrowed to the enum
    role.release();
    send_exception(seq,
                   std::make_exception_ptr(RemoteError("NotImplementedError",
                                                       "unknown request handler " + std::to_string(number))),
                   "an unknown handler");
    return;
  }
  // A one-way request (feature `oneway`): the call runs, and nothing is sent back.
  bool oneway = false;
  if (number >= oneway_handler_bit && config.enable_extensions) {
    const auto inner = static_cast<Handler>(number - oneway_handler_bit);
    if (inner == Handler::call || inner == Handler::callattr || inner == Handler::callchain) {
      oneway = true;
      number -= oneway_handler_bit;
    }
  }
  // DEADLINE (68) and CANCEL (69): one test on the common path.
  const bool deadline_or_cancel = (number == static_cast<int>(Handler::deadline) ||
                                   number == static_cast<int>(Handler::cancel)) && config.enable_extensions;
  if (deadline_or_cancel && number == static_cast<int>(Handler::cancel)) [[unlikely]] {
    return serve_cancel(seq, request_args, role);  // one-way: stops a request in service
  }

  // The arguments first: their references are resolved under the reader role (wire order).
  Args unboxed;  // the general decoder's arguments; the fast one's are the caller's
  Args* args = &unboxed;
  std::exception_ptr args_error;
  std::optional<std::uint32_t> promise;  // the pending result it names as its target (`pipeline`)
  detail::RequestDeadline deadline;      // DEADLINE's; none by default
  const bool wrapped = deadline_or_cancel;  // a CANCEL returned above
  try {
    if (request_args.boxed != nullptr || request_args.promise) [[unlikely]] promise = take_promise(request_args, wrapped);
    // Naming itself, it would wait on itself for ever (and hold its own answer: a cycle).
    if (promise == seq) throw RemoteError("ValueError", "a pipelined request cannot name its own result");
    args = &take_args(request_args, unboxed);
    if (wrapped) [[unlikely]] {  // the inner request from here
      deadline.sent = unwrap_deadline(*args, number, deadline.at);
      if (number > 255) {  // a keepable inner request that asked to be kept (unwrap_deadline checked)
        keep = true;
        number -= pipeline_keep_bit;
      }
    }
  } catch (const ProtocolError&) {
    args_error = std::current_exception();
  } catch (const RemoteError&) {
    args_error = std::current_exception();
  }
  const auto handler = static_cast<Handler>(number);
  if (handler == Handler::ping && !admit_ping()) return;
  // Filed in wire order, under the reader role: a call naming it may be read next.
  std::shared_ptr<detail::Answer> own = keep ? answers.open(seq) : nullptr;
  if (promise && !args_error) {
    {
      std::lock_guard lk(state_mutex);
      serving.begin(seq);  // no context: a CANCEL does not reach a call that waits on its target
    }
    // Waits behind its target, or runs now with its result or its error (docs/PIPELINING.md).
    detail::DeferredCall call{seq, handler, oneway, std::move(*args), own, deadline};
    Value target;
    std::exception_ptr error;
    const auto attached = answers.attach(*promise, call, target, error);
    role.release();
    if (attached == detail::Attached::queued) return;  // its target's finisher runs it
    if (attached == detail::Attached::ready) call.args[0] = std::move(target);
    finish_request(seq, handler, oneway, call.args, error, own, deadline, nullptr);
    if (own) drain(std::move(own));
    return;
  }
  // A seq still being served must not be reused: both replies would carry it, and the
  // peer would take the first for the other's answer (docs/FAULTS.md R5: close). Checked in
  // the same step that gives the reader role back, so others may read while the handler runs.
  RequestContext request(seq, deadline.at);  // RequestContext::current() for the handler; CANCEL finds it
  std::size_t where;  // its slot: its end goes straight there
  {
    std::lock_guard lk(state_mutex);
    where = serving.begin(seq, &request);
    role.release_locked();
  }
  state_cv.notify_all();
  role.after_release();
  finish_request_body<1>(seq, handler, oneway, *args, std::move(args_error), own, deadline, &request, where);
  if (own) drain(std::move(own));  // calls that named its result while it ran
}

void detail::ConnectionImpl::finish_request(std::uint32_t seq, Handler handler, bool oneway, Args& args,
                                            std::exception_ptr args_error, const std::shared_ptr<detail::Answer>& own,
                                            const detail::RequestDeadline& deadline, RequestContext* registered) {
  finish_request_body<0>(seq, handler, oneway, args, std::move(args_error), own, deadline, registered,
                         ServingRequests::kUnknown);
}

// finish_request's body, inlined into serve_request: the common request pays no call for it.
template <int Registered>
inline void detail::ConnectionImpl::finish_request_body(
    std::uint32_t seq, Handler handler, bool oneway, Args& args_in, std::exception_ptr args_error,
    const std::shared_ptr<detail::Answer>& own, const detail::RequestDeadline& deadline, RequestContext* registered,
    std::size_t where) {
  Args* args = &args_in;
  const auto context = [handler] { return request_context_name(handler); };  // for an error: looked up then
  detail::MeasuredRequest measured(config.served_metrics.get());
  struct SeqGuard {
    detail::ConnectionImpl& impl;
    std::uint32_t seq;
    std::size_t where;
    bool armed = true;  // false: a deferred reply ends the seq (finish_deferred)
    ~SeqGuard() {
      if (!armed) return;
      if (impl.serving.end_unlocked(seq, where)) return;
      std::lock_guard lk(impl.state_mutex);
      impl.serving.end_locked(seq);
    }
  } seq_guard{*this, seq, where};
  // A pipelined call's own context (its target's was current): its deadline, no CANCEL.
  std::optional<RequestContext> unregistered;
  if constexpr (Registered == 0) {
    if (registered == nullptr) unregistered.emplace(seq, deadline.at);
  }
  // A kept result is settled before the reply leaves: calls waiting on it run after.
  const auto settle = [&](const Value& result, const std::exception_ptr& error) noexcept {
    if (!own) return;
    try {
      answers.settle(*own, result, error);
    } catch (...) {  // out of memory for the error: the waiting calls get the connection's end
    }
  };
  // An error ends the request: its reply, or for a one-way request only its count.
  const auto fail_request = [&](std::exception_ptr error) noexcept {
    settle(Value(), error);
    if (!oneway) return send_exception(seq, std::move(error), context(), &measured);
    measured.finish(
        CallMetrics::error_class_of(describe_exception(std::move(error), context(), config.exceptions.get()).class_name));
  };
  if (args_error) {
    fail_request(args_error);
    return;
  }

  if (serving_depth >= config.max_callback_depth) {
    fail_request(std::make_exception_ptr(RemoteError(
        "RecursionError", "callback nesting exceeds max_callback_depth = " + std::to_string(config.max_callback_depth))));
    return;
  }
  if (deadline.at != std::chrono::steady_clock::time_point::max() && std::chrono::steady_clock::now() >= deadline.at)
      [[unlikely]] {  // it waited past its deadline (queued, or behind its pipelined target): not run
    fail_request(std::make_exception_ptr(
        TimeoutError("the request's deadline of " + std::to_string(deadline.sent.count()) +
                     " ms passed before its handler started")));
    return;
  }
  struct DepthGuard {
    detail::ConnectionImpl& impl;
    Connection* previous;
    DepthGuard(detail::ConnectionImpl& i, Connection* c) : impl(i), previous(detail::exchange_current_connection(c)) {
      ++serving_depth;
      impl.running_handlers.fetch_add(1, std::memory_order_relaxed);
    }
    ~DepthGuard() {
      impl.running_handlers.fetch_sub(1, std::memory_order_relaxed);
      --serving_depth;
      detail::exchange_current_connection(previous);
    }
  } guard(*this, self);

  Value result;
  try {
    result = run_handler(handler, *args, measured.slot_out());
    args->clear();
  } catch (...) {
    requests_served.fetch_add(1, std::memory_order_relaxed);
    fail_request(std::current_exception());
    return;
  }
  // The handler answers later (an object only can say so): no thread waits.
  if (auto deferred = result.kind() == Value::Kind::local_object ? deferred_result_of(result) : nullptr) {
    result = Value();
    seq_guard.armed = false;
    if (registered != nullptr) {  // the seq stays in service after its context goes
      std::lock_guard lk(state_mutex);
      serving.detach(seq);
    }
    defer_reply(seq, std::move(deferred), oneway, context(), std::move(measured), own);  // settles own then
    return;
  }
  settle(result, nullptr);
  if (oneway) {
    requests_served.fetch_add(1, std::memory_order_relaxed);
    measured.finish(CallMetrics::no_error);
    return;  // the result (and any netref in it) is dropped here, after the handler
  }
  detail::FrameBuffer frame;  // taken after the handler: its own calls used the buffer
  try {
    encode_reply(seq, result, frame);
  } catch (...) {
    requests_served.fetch_add(1, std::memory_order_relaxed);
    send_exception(seq, std::current_exception(), context(), &measured);
    return;
  }
  requests_served.fetch_add(1, std::memory_order_relaxed);
  measured.finish(CallMetrics::no_error);  // before the reply leaves: whoever reads it sees the count
  send_frame(frame);  // result, which a gathered part points into, lives until this returns
}

// The reply-later hook (netref/protocol/deferred_result.hpp): the request stays in service
// (its seq taken) until the result settles, on whichever thread settles it. The listener holds
// the connection weakly: a connection closed meanwhile is not kept alive, and the reply is
// dropped.
void detail::ConnectionImpl::defer_reply(std::uint32_t seq, std::shared_ptr<DeferredResult> deferred, bool oneway,
                                         const char* context, detail::MeasuredRequest measured,
                                         std::shared_ptr<detail::Answer> own) {
  auto measure = std::make_shared<detail::MeasuredRequest>(std::move(measured));
  std::weak_ptr<Connection> weak = self->shared_from_this();
  deferred->listen([weak = std::move(weak), seq, oneway, context, measure, own = std::move(own)](
                       Value value, std::exception_ptr error) mutable {
    auto conn = weak.lock();
    if (!conn) return;
    conn->impl_->finish_deferred(seq, oneway, context, *measure, std::move(value), std::move(error), own);
    // Calls pipelined on its result run now, on the thread that settled it.
    if (own) conn->impl_->drain(std::move(own));
  });
}

void detail::ConnectionImpl::finish_deferred(std::uint32_t seq, bool oneway, const char* context,
                                             detail::MeasuredRequest& measured, Value value,
                                             std::exception_ptr error,
                                             const std::shared_ptr<detail::Answer>& own) noexcept {
  struct SeqEnd {
    detail::ConnectionImpl& impl;
    std::uint32_t seq;
    ~SeqEnd() {
      std::lock_guard lk(impl.state_mutex);
      impl.serving.end(seq);
    }
  } seq_end{*this, seq};
  requests_served.fetch_add(1, std::memory_order_relaxed);
  if (own) {  // a kept result is settled before the reply leaves, as in finish_request
    try {
      answers.settle(*own, value, error);
    } catch (...) {  // out of memory for the error: the waiting calls get the connection's end
    }
  }
  if (!state.open()) return;  // closed meanwhile: nobody to answer
  if (oneway) {
    measured.finish(error ? CallMetrics::error_class_of(
                                describe_exception(std::move(error), context, config.exceptions.get()).class_name)
                          : CallMetrics::no_error);
    return;
  }
  if (error) return send_exception(seq, std::move(error), context, &measured);
  try {
    detail::FrameBuffer frame;
    try {
      encode_reply(seq, value, frame);
    } catch (...) {
      send_exception(seq, std::current_exception(), context, &measured);
      return;
    }
    measured.finish(CallMetrics::no_error);
    send_frame(frame);
  } catch (...) {
    // the link is gone; send_frame already failed the connection
  }
}

Args& detail::ConnectionImpl::take_args(detail::RequestArgs& request_args, Args& unboxed) {
  if (request_args.boxed != nullptr) {
    Value value = unbox(std::move(*request_args.boxed));
    unboxed = tuple_items(value, "request arguments");
    return unboxed;
  }
  resolve(request_args.refs);
  return *request_args.args;  // borrowed, not moved: its storage serves the next request
}

// docs/FAULTS.md G9: a peer that floods PINGs (cheap to send, a reply each to answer) is cut
// off after ping_strikes pings beyond max_pings_per_second. Runs under the reader role.
bool detail::ConnectionImpl::admit_ping() {
  if (!ping_limiter.enabled()) return true;
  if (ping_limiter.admit(std::chrono::steady_clock::now()) != detail::PingLimiter::Verdict::too_many) return true;
  fail(std::make_exception_ptr(ProtocolError(
           "too many pings: more than " + std::to_string(config.max_pings_per_second) + " a second, " +
           std::to_string(config.ping_strikes) + " times (max_pings_per_second, ping_strikes)")),
       CloseReason::pings);
  return false;
}

void detail::ConnectionImpl::encode_reply(std::uint32_t seq, const Value& result, detail::FrameBuffer& frame) {
  frame.bytes.clear();
  std::vector<const Object*> lent_now;
  try {
    detail::GatherScope gather(frame);  // a large result goes out from where it lies
    detail::wire::encode_reply_head(generation.load(std::memory_order_relaxed), seq, frame.bytes);
    box(result, frame.bytes, lent_now);
    if (frame.size() > channel->config().max_frame_bytes) {
      throw ValueError("result of " + std::to_string(frame.size()) + " bytes exceeds the limit of " +
                       std::to_string(channel->config().max_frame_bytes) + " (max_frame_bytes)");
    }
  } catch (...) {
    rollback_lends(lent_now);
    throw;
  }
}

void detail::ConnectionImpl::send_reply(std::uint32_t seq, const Value& result) {
  detail::FrameBuffer frame;
  encode_reply(seq, result, frame);
  send_frame(frame);
}

// What rpyc's vinegar.dump adds to every exception it sends, as this connection's config says.
ExceptionInfo detail::ConnectionImpl::for_peer(ExceptionInfo info) const {
  if (info.stop_iteration) return info;
  if (!config.include_local_traceback) info.traceback = "<traceback denied>";
  std::string version = "<version denied>";
  if (config.include_local_version) {
    version = generation.load(std::memory_order_relaxed) == Generation::v5 ? "5.3.0" : "6.0.1";
  }
  info.attrs.emplace_back("_remote_version", std::move(version));
  return info;
}

void detail::ConnectionImpl::send_exception(std::uint32_t seq, std::exception_ptr error, std::string_view context,
                                           detail::MeasuredRequest* measured) noexcept {
  std::vector<std::uint8_t> frame;
  std::size_t error_class = CallMetrics::error_class_of("other");
  try {
    detail::wire::encode_exception_head(generation.load(std::memory_order_relaxed), seq, frame);
    const ExceptionInfo info = describe_exception(std::move(error), context, config.exceptions.get());
    error_class = CallMetrics::error_class_of(info.class_name);
    if (log_wanted()) {
      log(LogLevel::debug, config.name + ": " + std::string(context) + " raised " + info.class_name + ": " +
                               info.message().substr(0, 200));
    }
    brine::encode(exception_codec::encode(for_peer(info)), frame);
  } catch (...) {
    // Describing the error failed: send a fixed one rather than loop (docs/FAULTS.md F6).
    frame.clear();
    ExceptionInfo info;
    info.class_name = "RuntimeError";
    info.args.emplace_back("internal error while encoding an exception");
    try {
      detail::wire::encode_exception_head(generation.load(std::memory_order_relaxed), seq, frame);
      brine::encode(exception_codec::encode(info), frame);
    } catch (...) {
      if (measured != nullptr) measured->finish(error_class);
      return;
    }
  }
  if (measured != nullptr) measured->finish(error_class);
  try {
    send_frame(frame);
  } catch (...) {
    // the link is gone; send_frame already failed the connection
  }
}

}  // namespace netref
