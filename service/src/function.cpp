// Binding arguments to parameters, overload resolution and the messages that say why a call
// did not fit. Everything here works on FunctionRecords; no templates.
#include "netref/service/function.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace netref::detail {
namespace {

// The whole "incompatible arguments" message stays under this, however large the arguments
// (a 10 MB string, a keyword argument with a 10 MB name): nothing past it is ever formatted.
constexpr std::size_t error_text_cap = 4096;
// What one argument (a keyword name) or one overload's reason may take of it.
constexpr std::size_t piece_cap = 64;
constexpr std::size_t reason_cap = 512;

// The longest prefix of text within max bytes that does not split a UTF-8 character (the
// message travels to Python as a str).
std::string_view utf8_prefix(std::string_view text, std::size_t max) {
  if (text.size() <= max) return text;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return text.substr(0, n);
}

// text cut to max bytes, "..." marking a cut.
std::string clip(std::string_view text, std::size_t max) {
  if (text.size() <= max) return std::string(text);
  return std::string(utf8_prefix(text, max)) + "...";
}

// Text that stops growing at its cap: the piece that would cross it is cut, marked with
// "...", and everything after is dropped unread.
class BoundedText {
 public:
  explicit BoundedText(std::size_t cap) : limit_(cap - marker.size()) {}

  BoundedText& operator<<(std::string_view piece) {
    if (full_) return *this;
    const std::size_t room = limit_ - text_.size();
    if (piece.size() <= room) {
      text_ += piece;
    } else {
      text_ += utf8_prefix(piece, room);
      text_ += marker;
      full_ = true;
    }
    return *this;
  }
  bool full() const noexcept { return full_; }
  std::string take() { return std::move(text_); }

 private:
  static constexpr std::string_view marker = "...";
  std::size_t limit_;
  std::string text_;
  bool full_ = false;
};

std::string argument_label(const FunctionRecord& record, std::size_t index) {
  std::string label = "argument " + std::to_string(index + 1);
  if (index < record.params.size() && !record.params[index].name.empty()) {
    label += " ('" + record.params[index].name + "')";
  }
  return label;
}

// "(str, int, b=float)": what the caller sent, for the error message. Types only, never
// values; keyword names cut to piece_cap.
void describe_call(BoundedText& out, const Args& args, const Kwargs& kwargs) {
  out << "(";
  bool first = true;
  for (const auto& a : args) {
    if (out.full()) return;
    out << (first ? "" : ", ") << a.type_name();
    first = false;
  }
  for (const auto& [name, value] : kwargs) {
    if (out.full()) return;
    out << (first ? "" : ", ") << utf8_prefix(name, piece_cap) << (name.size() > piece_cap ? "..." : "") << "="
        << value.type_name();
    first = false;
  }
  out << ")";
}

// "f(): incompatible arguments (float); expected one of: f(int) -> int [why] | ...", within
// error_text_cap.
std::string incompatible_arguments(const std::vector<FunctionRecord>& records, const std::vector<std::string>& reasons,
                                   const Args& args, const Kwargs& kwargs) {
  BoundedText out(error_text_cap);
  out << (records.empty() ? std::string_view() : std::string_view(records.front().name)) << "(): incompatible arguments ";
  describe_call(out, args, kwargs);
  out << "; expected one of: ";
  for (std::size_t i = 0; i < records.size() && !out.full(); ++i) {
    out << (i ? " | " : "") << records[i].signature << " [" << reasons[i] << "]";
  }
  return out.take();
}

// The two kind checks: first without a round trip; only when that cannot tell (a netref
// whose items decide), again with the items fetched, once for the whole call.
bool record_fits(const FunctionRecord& record, CallFrame& frame) {
  Fit fit = record.check(record, frame, false);
  if (fit == Fit::unknown) fit = record.check(record, frame, true);
  return fit != Fit::no;
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
      frame.mismatch = "unexpected keyword argument '" + clip(name, piece_cap) + "'";
      return false;
    }
    if (slots[index]) {
      frame.mismatch = "got multiple values for argument '" + name + "'";  // a parameter's own name
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
                            const ConversionError& error) {
  frame.mismatch = argument_label(record, index) + ": " + clip(error.message(), reason_cap);
}

void note_argument_misfit(const FunctionRecord& record, CallFrame& frame, std::size_t index,
                          std::string_view reason) {
  frame.mismatch = argument_label(record, index) + ": " + clip(reason, reason_cap);
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
  DrainCache drained;  // what this call fetched, for every record's checks and conversion
  ConvertContext call_ctx = ctx;
  call_ctx.drained = &drained;
  CallFrame frame{self, args, kwargs, call_ctx, Value(), std::string()};
  std::vector<std::string> reasons;
  for (const auto& record : records) {
    // A conversion can still refuse what the kind check passed (a user Converter without
    // fits); then the next record is tried, so only the last one may take the arguments.
    frame.consume = &record == &records.back();
    if (record_fits(record, frame) && record.invoke(record, frame)) return std::move(frame.result);
    reasons.push_back(std::move(frame.mismatch));
    frame.mismatch.clear();
  }
  throw TypeError(incompatible_arguments(records, reasons, args, kwargs));
}

}  // namespace netref::detail
