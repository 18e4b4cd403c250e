// Vinegar: RPyC's exception tuples (rpyc/core/vinegar.py), read without trusting their shape.
#include "netref/protocol/exception_codec.hpp"

#include <string>
#include <string_view>
#include <utility>

#include "netref/protocol/brine.hpp"

namespace netref {
namespace {

constexpr std::string_view truncated_marker = "...[truncated]";
// How much of an undumpable value or a malformed wire value a message shows.
constexpr std::size_t render_chars = 1024;

// Caps s at max_text_bytes, cutting on a UTF-8 boundary and marking the cut.
std::string cap(std::string s) {
  constexpr std::size_t limit = exception_codec::max_text_bytes;
  if (s.size() <= limit) return s;
  std::size_t cut = limit - truncated_marker.size();
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
  s.append(truncated_marker);
  s.shrink_to_fit();
  return s;
}

// Invalid UTF-8 (a C++ what() in Latin-1, say) would make the whole reply unencodable:
// replace each bad byte with U+FFFD so the message still gets through.
std::string repair_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t good = i;
    // Find the longest valid run starting at i, one character at a time.
    while (good < s.size()) {
      auto c = static_cast<unsigned char>(s[good]);
      std::size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
      if (good + n > s.size() || !brine::is_valid_utf8(s.substr(good, n))) break;
      good += n;
    }
    out.append(s.substr(i, good - i));
    if (good < s.size()) {
      out.append("\xEF\xBF\xBD");
      ++good;
    }
    i = good;
  }
  return out;
}

std::string text_for_wire(const std::string& s) {
  return brine::is_valid_utf8(s) ? s : repair_utf8(s);
}

// What vinegar does with an arg or attribute: dumpable values go as they are (with str
// repaired to UTF-8), anything holding a reference as its rendering.
Value value_for_wire(const Value& v) {
  if (!brine::dumpable(v)) return Value(v.debug_string(render_chars));
  auto fix_items = [](const std::vector<Value>& items) {
    std::vector<Value> out;
    out.reserve(items.size());
    for (const auto& item : items) out.push_back(value_for_wire(item));
    return out;
  };
  if (const auto* s = v.get_if<std::string>()) return Value(text_for_wire(*s));
  if (const auto* t = v.get_if<Tuple>()) return Value(Tuple{fix_items(t->items)});
  if (const auto* f = v.get_if<FrozenSet>()) return Value(FrozenSet{fix_items(f->items)});
  if (const auto* sl = v.get_if<Slice>()) return Value(Slice{fix_items(sl->parts)});
  return v;
}

// A decoded arg or attribute value: top-level strings are capped.
Value capped(const Value& v) {
  if (const auto* s = v.get_if<std::string>(); s && s->size() > exception_codec::max_text_bytes) {
    return Value(cap(*s));
  }
  return v;
}

ExceptionInfo generic(std::string message) {
  ExceptionInfo info;
  info.module = "netref";
  info.class_name = "RemoteError";
  info.args.emplace_back(cap(std::move(message)));
  return info;
}

ExceptionInfo malformed(const Value& wire, std::string_view why) {
  std::string message = "malformed remote exception (";
  message.append(why);
  message.append("): ");
  message.append(wire.type_name());
  message.append(" ");
  message.append(wire.debug_string(render_chars));
  return generic(std::move(message));
}

const std::vector<Value>* tuple_items(const Value& v) {
  const auto* t = v.get_if<Tuple>();
  return t ? &t->items : nullptr;
}

}  // namespace

std::string ExceptionInfo::message() const {
  if (args.empty()) return {};
  if (const auto* s = args[0].get_if<std::string>()) return *s;
  if (args.size() == 1) return args[0].debug_string(render_chars);
  return Value(Tuple{args}).debug_string(render_chars);
}

namespace exception_codec {

Value encode(const ExceptionInfo& info) {
  if (info.stop_iteration) return Value(std::int64_t{1});  // consts.EXC_STOP_ITERATION
  Tuple args;
  args.items.reserve(info.args.size());
  for (const auto& a : info.args) args.items.push_back(value_for_wire(a));
  Tuple attrs;
  attrs.items.reserve(info.attrs.size());
  for (const auto& [name, value] : info.attrs) {
    attrs.items.push_back(tuple_of(text_for_wire(name), value_for_wire(value)));
  }
  return tuple_of(tuple_of(text_for_wire(info.module), text_for_wire(info.class_name)),
                  std::move(args), std::move(attrs), text_for_wire(info.traceback));
}

ExceptionInfo decode(const Value& wire) {
  // vinegar.load compares with ==, so True counts as EXC_STOP_ITERATION there too.
  if (const auto* i = wire.get_if<std::int64_t>(); i && *i == 1) {
    ExceptionInfo info;
    info.module = "builtins";
    info.class_name = "StopIteration";
    info.stop_iteration = true;
    return info;
  }
  if (const auto* b = wire.get_if<bool>(); b && *b) return decode(Value(std::int64_t{1}));
  if (const auto* s = wire.get_if<std::string>()) return generic(*s);  // old string exceptions

  const auto* top = tuple_items(wire);
  if (!top || top->size() != 4) return malformed(wire, "not a 4-tuple");
  const auto* names = tuple_items((*top)[0]);
  if (!names || names->size() != 2) return malformed(wire, "the class is not a 2-tuple");
  const auto* module = (*names)[0].get_if<std::string>();
  const auto* class_name = (*names)[1].get_if<std::string>();
  if (!module || !class_name) return malformed(wire, "module and class are not str");
  const auto* args = tuple_items((*top)[1]);
  if (!args) return malformed(wire, "args are not a tuple");
  const auto* attrs = tuple_items((*top)[2]);
  if (!attrs) return malformed(wire, "attributes are not a tuple");
  const auto* traceback = (*top)[3].get_if<std::string>();
  if (!traceback) return malformed(wire, "the traceback is not a str");

  ExceptionInfo info;
  info.attrs.reserve(attrs->size());
  for (const auto& attr : *attrs) {
    const auto* pair = tuple_items(attr);
    const std::string* name =
        pair && pair->size() == 2 ? (*pair)[0].get_if<std::string>() : nullptr;
    if (!name) return malformed(wire, "an attribute is not a (str, value) pair");
    info.attrs.emplace_back(cap(*name), capped((*pair)[1]));
  }
  info.module = cap(*module);
  info.class_name = cap(*class_name);
  info.args.reserve(args->size());
  for (const auto& a : *args) info.args.push_back(capped(a));
  info.traceback = cap(*traceback);
  return info;
}

}  // namespace exception_codec
}  // namespace netref
