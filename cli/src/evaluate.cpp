#include "evaluate.hpp"

#include <span>
#include <utility>
#include <vector>

#include "netref/protocol/connection.hpp"
#include "netref/proxy/proxy.hpp"

namespace netref::cli {
namespace {

/// Where an attribute path starts and the names not fetched yet: `a.b.c` stays a place until
/// it is called (one CALLATTR or CALLCHAIN) or its value is needed (GETATTR or GETCHAIN).
struct Place {
  Value target;
  std::vector<std::string> path;
  std::size_t column = 1;
};

const RemoteRefPtr* remote_of(const Value& value) {
  const auto* ref = value.get_if<RemoteRefPtr>();
  return ref != nullptr && *ref ? ref : nullptr;
}

class Evaluator {
 public:
  explicit Evaluator(RemoteRefPtr root) : root_(std::move(root)) {}

  Value value(const Expression& e) { return fetch(place(e)); }

 private:
  Place place(const Expression& e) {
    if (const auto* name = std::get_if<Name>(&e.node)) return Place{Value(root_), {name->name}, e.column};
    if (const auto* attribute = std::get_if<Attribute>(&e.node)) {
      Place p = place(*attribute->object);
      if (p.path.empty() && remote_of(p.target) == nullptr) {
        throw EvaluationError(e.column, "a " + std::string(p.target.type_name()) + " value has no attribute '" +
                                            attribute->name + "' here: only the server's objects are asked");
      }
      p.path.push_back(attribute->name);
      return p;
    }
    return Place{computed(e), {}, e.column};
  }

  Value fetch(Place p) {
    if (p.path.empty()) return std::move(p.target);
    Proxy proxy(std::move(p.target));
    for (const auto& name : p.path) proxy = proxy.attr(name);
    return std::move(proxy).value();  // one GETCHAIN for a netref peer, a GETATTR a name otherwise
  }

  Value computed(const Expression& e) {
    if (const auto* literal = std::get_if<Literal>(&e.node)) return literal->value;
    if (const auto* sequence = std::get_if<Sequence>(&e.node)) {
      Tuple tuple;
      for (const auto& item : sequence->items) tuple.items.push_back(value(item));
      return Value(std::move(tuple));
    }
    if (const auto* call = std::get_if<Call>(&e.node)) return invoke(*call, e.column);
    const auto& subscript = std::get<Subscript>(e.node);
    Value object = value(*subscript.object);
    const auto* ref = remote_of(object);
    if (ref == nullptr) {
      throw EvaluationError(e.column, "a " + std::string(object.type_name()) +
                                          " value cannot be indexed here: only the server's objects are asked");
    }
    return (*ref)->callattr("__getitem__", values_of(value(*subscript.index)));
  }

  Value invoke(const Call& call, std::size_t column) {
    Place callee = place(*call.callee);
    Args args;
    Kwargs kwargs;
    for (const auto& argument : call.arguments) {
      if (argument.keyword.empty()) {
        args.push_back(value(*argument.value));
      } else {
        kwargs.emplace_back(argument.keyword, value(*argument.value));
      }
    }
    const auto* ref = remote_of(callee.target);
    if (ref == nullptr) {
      throw EvaluationError(column, "a " + std::string(callee.target.type_name()) +
                                        " value cannot be called: only the server's objects are");
    }
    // A netref peer takes the whole chain in one CALLCHAIN; rpyc takes one CALLATTR on the
    // parent, which is fetched first.
    if (callee.path.size() <= 1 || (*ref)->connection()->peer_is_netref()) {
      return (*ref)->call_path(callee.path, args, std::move(kwargs));
    }
    const std::string last = callee.path.back();
    callee.path.pop_back();
    Value parent = fetch(std::move(callee));
    const auto* parent_ref = remote_of(parent);
    if (parent_ref == nullptr) {
      throw EvaluationError(column, "a " + std::string(parent.type_name()) + " value has no attribute '" + last +
                                        "' here: only the server's objects are asked");
    }
    return (*parent_ref)->call_path(std::span<const std::string>(&last, 1), args, std::move(kwargs));
  }

  RemoteRefPtr root_;
};

}  // namespace

Value evaluate(const Expression& expression, const RemoteRefPtr& root) { return Evaluator(root).value(expression); }

}  // namespace netref::cli
