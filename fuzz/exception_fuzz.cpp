// Fuzz target L4 (docs/FAULTS.md §6): the exception decoder (RPyC's vinegar tuples). Byte 0,
// bit 0 picks where the wire value comes from: brine bytes from a peer (clear), or a value
// built from the input (set), shaped like a vinegar tuple most of the time, with strings past
// the 64 KiB caps and, when bit 1 is set, invalid UTF-8 that only a locally built value has.
// Checked:
//  - exception_codec::decode never throws, whatever arrives (F1);
//  - module, class, traceback, attribute names and str args are capped at max_text_bytes, cut
//    on a UTF-8 boundary (F2); message() stays bounded;
//  - the decoded info re-encodes to brine without throwing (text is repaired to UTF-8), and
//    decoding that gives the same info back;
//  - make_remote_exception raises the class the table maps it to, carrying the same info, and
//    describe_exception of it keeps class and module (R3).
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "netref/protocol/brine.hpp"
#include "netref/protocol/errors.hpp"
#include "netref/protocol/exception_codec.hpp"

namespace {

using netref::ExceptionInfo;
using netref::Tuple;
using netref::Value;
using netref::fuzz::Input;
namespace codec = netref::exception_codec;

constexpr std::string_view kModules[] = {"builtins", "netref", "rpyc.core.vinegar", "", "builtins.sub"};
constexpr std::string_view kClasses[] = {"ValueError", "KeyError", "AttributeError", "TypeError", "IndexError",
                                         "StopIteration", "RemoteError", "GenericException", "", "__import__"};

Value text_value(Input& in, std::span<const std::string_view> words, const netref::fuzz::GenOptions& options) {
  if (in.u8() & 1) return Value(std::string(words[in.below(words.size())]));
  return netref::fuzz::make_value(in, options);
}

// A vinegar-shaped value ((module, class), args, attrs, traceback), or something near it.
Value make_wire(Input& in, bool invalid_utf8) {
  netref::fuzz::GenOptions options;
  options.invalid = invalid_utf8;
  options.long_strings = true;
  options.max_depth = 3;
  const std::uint8_t shape = in.u8();
  switch (shape % 8) {
    case 5: return Value(static_cast<std::int64_t>(in.below(3)));  // 1 is StopIteration
    case 6: return Value((shape & 0x80) != 0);
    case 7: return netref::fuzz::make_value(in, options);
    default: break;
  }
  Value names = netref::tuple_of(text_value(in, kModules, options), text_value(in, kClasses, options));
  if (shape & 0x10) names = netref::fuzz::make_value(in, options);
  Tuple args;
  for (std::size_t n = in.below(4); n > 0; --n) args.items.push_back(netref::fuzz::make_value(in, options));
  Tuple attrs;
  for (std::size_t n = in.below(4); n > 0; --n) {
    if (in.u8() & 0x40) {
      attrs.items.push_back(netref::fuzz::make_value(in, options));  // not a (name, value) pair
    } else {
      attrs.items.push_back(netref::tuple_of(text_value(in, netref::fuzz::kWords, options), netref::fuzz::make_value(in, options)));
    }
  }
  Value traceback = (shape & 0x20) ? netref::fuzz::make_value(in, options) : Value(in.text(in.u8()));
  Tuple top{{std::move(names), Value(std::move(args)), Value(std::move(attrs)), std::move(traceback)}};
  if (shape & 0x40) top.items.resize(in.below(6));
  return Value(std::move(top));
}

// True if brine::encode accepts v once every str in it is repaired to UTF-8.
bool encodable_once_repaired(const Value& v) {
  auto all = [](const std::vector<Value>& items) {
    for (const auto& item : items) {
      if (!encodable_once_repaired(item)) return false;
    }
    return true;
  };
  if (v.get_if<std::string>()) return true;
  if (auto* t = v.get_if<Tuple>()) return all(t->items);
  if (auto* f = v.get_if<netref::FrozenSet>()) return all(f->items);
  if (auto* s = v.get_if<netref::Slice>()) return s->parts.size() == 3 && all(s->parts);
  return netref::fuzz::encodable(v);
}

bool all_strings_utf8(const Value& v) {
  if (auto* s = v.get_if<std::string>()) return netref::fuzz::utf8_ok(*s);
  const std::vector<Value>* items = nullptr;
  if (auto* t = v.get_if<Tuple>()) items = &t->items;
  if (auto* f = v.get_if<netref::FrozenSet>()) items = &f->items;
  if (auto* s = v.get_if<netref::Slice>()) items = &s->parts;
  if (items) {
    for (const auto& item : *items) {
      if (!all_strings_utf8(item)) return false;
    }
  }
  return true;
}

void check_capped(const std::string& s, const char* what, bool source_utf8) {
  NETREF_FUZZ_CHECK(s.size() <= codec::max_text_bytes, std::string(what) + " of " + std::to_string(s.size()) + " bytes is not capped");
  if (source_utf8) NETREF_FUZZ_CHECK(netref::fuzz::utf8_ok(s), std::string(what) + " was cut inside a UTF-8 character");
}

// Field by field; with normalize, a's values as a brine round trip leaves them (BigInts).
bool same_info(const ExceptionInfo& a, const ExceptionInfo& b, bool normalize = false) {
  auto same = [normalize](const Value& x, const Value& y) {
    return netref::fuzz::same_value(normalize ? netref::fuzz::normalized(x) : x, y);
  };
  if (a.module != b.module || a.class_name != b.class_name || a.traceback != b.traceback ||
      a.stop_iteration != b.stop_iteration || a.args.size() != b.args.size() || a.attrs.size() != b.attrs.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.args.size(); ++i) {
    if (!same(a.args[i], b.args[i])) return false;
  }
  for (std::size_t i = 0; i < a.attrs.size(); ++i) {
    if (a.attrs[i].first != b.attrs[i].first || !same(a.attrs[i].second, b.attrs[i].second)) return false;
  }
  return true;
}

// The class make_remote_exception must raise for info.
template <class E>
bool raises(const std::exception_ptr& p) {
  try {
    std::rethrow_exception(p);
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
}

void check_raised(const ExceptionInfo& info) {
  const std::exception_ptr p = netref::make_remote_exception(info);
  bool typed = true;
  const bool builtin = info.module == "builtins";
  if (info.stop_iteration || (builtin && info.class_name == "StopIteration")) {
    typed = raises<netref::StopIteration>(p);
  } else if (builtin && info.class_name == "AttributeError") {
    typed = raises<netref::AttributeError>(p);
  } else if (builtin && info.class_name == "TypeError") {
    typed = raises<netref::TypeError>(p);
  } else if (builtin && info.class_name == "KeyError") {
    typed = raises<netref::KeyError>(p);
  } else if (builtin && info.class_name == "IndexError") {
    typed = raises<netref::IndexError>(p);
  } else if (builtin && info.class_name == "ValueError") {
    typed = raises<netref::ValueError>(p);
  }
  NETREF_FUZZ_CHECK(typed, "make_remote_exception raised the wrong class for " + info.module + "." + info.class_name);
  try {
    std::rethrow_exception(p);
  } catch (const netref::RemoteError& e) {
    NETREF_FUZZ_CHECK(same_info(e.info(), info), "the raised error does not carry the decoded info");
    // what() is a C string: a class name with a NUL in it shows up to the NUL.
    const std::string_view shown = std::string_view(info.class_name).substr(0, info.class_name.find('\0'));
    NETREF_FUZZ_CHECK(std::string_view(e.what()).starts_with(shown), "what() does not start with the class");
  } catch (...) {
    NETREF_FUZZ_CHECK(false, "make_remote_exception raised something that is not a RemoteError");
  }
  const ExceptionInfo described = netref::describe_exception(p, "fuzz");
  NETREF_FUZZ_CHECK(described.class_name == info.class_name && described.module == info.module,
                    "describe_exception changed the class of a remote error");
  NETREF_FUZZ_CHECK(described.stop_iteration || described.traceback.find("while serving fuzz") != std::string::npos,
                    "describe_exception lost the context line");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  const std::uint8_t config = in.u8();
  Value wire;
  if (config & 1) {
    wire = make_wire(in, (config & 2) != 0);
  } else {
    try {
      wire = netref::brine::decode(in.rest());
    } catch (const netref::ProtocolError&) {
      return 0;
    }
  }

  ExceptionInfo info;
  try {
    info = codec::decode(wire);
  } catch (const std::exception& e) {
    NETREF_FUZZ_CHECK(false, std::string("exception_codec::decode threw: ") + e.what());
  }

  const bool utf8 = all_strings_utf8(wire);
  check_capped(info.module, "the module", utf8);
  check_capped(info.class_name, "the class name", utf8);
  check_capped(info.traceback, "the traceback", utf8);
  for (const auto& [name, value] : info.attrs) {
    check_capped(name, "an attribute name", utf8);
    if (auto* s = value.get_if<std::string>()) check_capped(*s, "a str attribute", utf8);
  }
  for (const auto& arg : info.args) {
    if (auto* s = arg.get_if<std::string>()) check_capped(*s, "a str arg", utf8);
  }
  NETREF_FUZZ_CHECK(info.message().size() <= codec::max_text_bytes, "message() is not bounded");

  const Value reencoded = codec::encode(info);
  std::vector<std::uint8_t> bytes;
  bool encoded = true;
  try {
    bytes = netref::brine::encode(reencoded);
  } catch (const netref::ProtocolError& e) {
    encoded = false;
    NETREF_FUZZ_CHECK(!encodable_once_repaired(wire), std::string("a decoded exception does not encode: ") + e.what());
  }
  if (encoded) {
    const ExceptionInfo again = codec::decode(netref::brine::decode(bytes));
    if (utf8) NETREF_FUZZ_CHECK(same_info(info, again, /*normalize=*/true), "decode(encode(info)) != info for " + info.class_name);
  }
  check_raised(info);
  return 0;
}
