// Binding arguments to parameters, overload resolution and the messages that say why a call
// did not fit. Everything here works on FunctionRecords; no templates.
#include "netref/service/function.hpp"

#include <stdexcept>
#include <string>

namespace netref::detail {
namespace {

std::string argument_label(const FunctionRecord& record, std::size_t index) {
  std::string label = "argument " + std::to_string(index + 1);
  if (index < record.params.size() && !record.params[index].name.empty()) {
    label += " ('" + record.params[index].name + "')";
  }
  return label;
}

// "(str, int, b=float)": what the caller sent, for the error message.
std::string describe_call(const Args& args, const Kwargs& kwargs) {
  std::string s = "(";
  bool first = true;
  for (const auto& a : args) {
    if (!first) s += ", ";
    s += a.type_name();
    first = false;
  }
  for (const auto& [name, value] : kwargs) {
    if (!first) s += ", ";
    s += name + "=" + std::string(value.type_name());
    first = false;
  }
  return s + ")";
}

}  // namespace

bool bind_arguments(const FunctionRecord& record, CallFrame& frame, const Value** slots) {
  const std::size_t n = record.params.size();
  const std::size_t given = frame.args.size();
  if (given > n) {
    frame.mismatch = "takes " + std::to_string(n) + " positional argument" + (n == 1 ? "" : "s") + " but " +
                     std::to_string(given) + " were given";
    return false;
  }
  for (std::size_t i = 0; i < given; ++i) slots[i] = &frame.args[i];
  for (std::size_t i = given; i < n; ++i) slots[i] = nullptr;
  for (const auto& [name, value] : frame.kwargs) {
    std::size_t index = n;
    for (std::size_t i = 0; i < n; ++i) {
      if (!record.params[i].name.empty() && record.params[i].name == name) {
        index = i;
        break;
      }
    }
    if (index == n) {
      frame.mismatch = "unexpected keyword argument '" + name + "'";
      return false;
    }
    if (slots[index]) {
      frame.mismatch = "got multiple values for argument '" + name + "'";
      return false;
    }
    slots[index] = &value;
  }
  for (std::size_t i = given; i < n; ++i) {
    if (slots[i]) continue;
    if (!record.params[i].default_value) {
      frame.mismatch = "missing " + argument_label(record, i);
      return false;
    }
    slots[i] = &*record.params[i].default_value;
  }
  return true;
}

void note_argument_mismatch(const FunctionRecord& record, CallFrame& frame, std::size_t index,
                            const TypeError& error) {
  frame.mismatch = argument_label(record, index) + ": " + error.message();
}

void describe_record(FunctionRecord& record, std::vector<std::string> param_types,
                     std::string result_type, std::vector<ParamAnnotation> annotations) {
  if (!annotations.empty() && annotations.size() != param_types.size()) {
    throw std::invalid_argument("netref: " + record.name + " has " + std::to_string(param_types.size()) +
                                " parameters but " + std::to_string(annotations.size()) +
                                " netref::arg names were given");
  }
  record.params.clear();
  record.params.reserve(param_types.size());
  bool seen_default = false;
  for (std::size_t i = 0; i < param_types.size(); ++i) {
    ParamInfo p;
    p.type = std::move(param_types[i]);
    if (!annotations.empty()) {
      p.name = annotations[i].name ? annotations[i].name : "";
      p.default_value = std::move(annotations[i].default_value);
      if (p.default_value) {
        seen_default = true;
      } else if (seen_default) {
        throw std::invalid_argument("netref: " + record.name + ": parameter '" + p.name +
                                    "' without a default follows one with a default");
      }
    }
    record.params.push_back(std::move(p));
  }
  std::string sig = record.name + "(";
  for (std::size_t i = 0; i < record.params.size(); ++i) {
    const auto& p = record.params[i];
    if (i) sig += ", ";
    if (!p.name.empty()) sig += p.name + ": ";
    sig += p.type;
    if (p.default_value) sig += " = " + p.default_value->debug_string(40);
  }
  sig += ") -> " + result_type;
  record.signature = std::move(sig);
}

Value call_records(const std::vector<FunctionRecord>& records, void* self, const ConvertContext& ctx,
                   Args& args, Kwargs& kwargs) {
  CallFrame frame{self, args, kwargs, ctx, Value(), std::string()};
  // Only the failure path below allocates.
  std::vector<std::string> reasons;
  for (const auto& record : records) {
    frame.consume = &record == &records.back();
    if (record.invoke(record, frame)) return std::move(frame.result);
    reasons.push_back(std::move(frame.mismatch));
    frame.mismatch.clear();
  }
  const std::string& name = records.empty() ? std::string() : records.front().name;
  std::string message = name + "(): incompatible arguments " + describe_call(args, kwargs) + "; expected one of: ";
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (i) message += " | ";
    message += records[i].signature + " [" + reasons[i] + "]";
  }
  throw TypeError(std::move(message));
}

}  // namespace netref::detail
