// Vinegar tuples: what Python's vinegar.dump sends, and shapes it never sends.
#include "netref/protocol/exception_codec.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "netref/protocol/brine.hpp"
#include "netref/protocol/errors.hpp"

using namespace netref;
using Buf = std::vector<std::uint8_t>;

namespace {

// Python's vinegar.dump of real exceptions, brine-encoded (tests/data/brine/make_golden.py).
Value golden(const std::string& name) {
  std::ifstream in(std::string(NETREF_TEST_DATA_DIR) + "/brine/vinegar_vectors.tsv");
  REQUIRE(in.good());
  std::string line;
  while (std::getline(in, line)) {
    auto tab = line.find('\t');
    if (line.substr(0, tab) != name) continue;
    Buf bytes;
    for (std::size_t i = tab + 1; i + 1 < line.size(); i += 2) {
      bytes.push_back(static_cast<std::uint8_t>(std::stoi(line.substr(i, 2), nullptr, 16)));
    }
    return brine::decode(bytes);
  }
  FAIL("no golden vector " << name);
  return {};
}

const std::vector<Value>& items(const Value& v) {
  REQUIRE(v.get_if<Tuple>() != nullptr);
  return v.get_if<Tuple>()->items;
}

bool is_generic(const ExceptionInfo& info) {
  return info.module == "netref" && info.class_name == "RemoteError" && !info.stop_iteration;
}

}  // namespace

TEST_CASE("a ValueError from Python decodes to its module, class, message and traceback") {
  ExceptionInfo info = exception_codec::decode(golden("value_error"));
  CHECK(info.module == "builtins");
  CHECK(info.class_name == "ValueError");
  CHECK(info.message() == "bad value");
  REQUIRE(info.args.size() == 1);
  CHECK(info.args[0] == Value("bad value"));
  CHECK(info.traceback.find("ValueError: bad value") != std::string::npos);
  CHECK_FALSE(info.stop_iteration);
  bool has_version = false;
  for (const auto& [name, value] : info.attrs) {
    if (name == "_remote_version") has_version = value == Value("5.3.0");
  }
  CHECK(has_version);
}

TEST_CASE("a KeyError from Python decodes with its key as the message") {
  ExceptionInfo info = exception_codec::decode(golden("key_error"));
  CHECK(info.module == "builtins");
  CHECK(info.class_name == "KeyError");
  CHECK(info.message() == "k");
  CHECK(info.traceback.find("KeyError") != std::string::npos);
}

TEST_CASE("our ValueError has the shape Python's vinegar.dump gives one") {
  ExceptionInfo info;
  info.class_name = "ValueError";
  info.args = {Value("bad value")};
  info.attrs = {{"_remote_version", Value("5.3.0")}};
  info.traceback = "Traceback (C++): std::invalid_argument\n";
  Value ours = exception_codec::encode(info);
  Value python = golden("value_error");
  const auto& o = items(ours);
  const auto& p = items(python);
  REQUIRE(o.size() == 4);
  REQUIRE(p.size() == 4);
  CHECK(o[0] == p[0]);                              // ("builtins", "ValueError")
  CHECK(o[1] == p[1]);                              // ("bad value",)
  CHECK(items(o[2]).back() == items(p[2]).back());  // ("_remote_version", "5.3.0")
  CHECK(o[3] == Value(info.traceback));
  CHECK(p[3].get_if<std::string>() != nullptr);
  // And it survives the wire.
  ExceptionInfo back = exception_codec::decode(brine::decode(brine::encode(ours)));
  CHECK(back.module == info.module);
  CHECK(back.class_name == info.class_name);
  CHECK(back.args == info.args);
  CHECK(back.attrs == info.attrs);
  CHECK(back.traceback == info.traceback);
}

TEST_CASE("StopIteration travels as the int 1 both ways") {
  ExceptionInfo from_python = exception_codec::decode(golden("stop_iteration"));
  CHECK(from_python.stop_iteration);
  ExceptionInfo info;
  info.stop_iteration = true;
  Value wire = exception_codec::encode(info);
  CHECK(wire == Value(1));
  CHECK(brine::encode(wire) == Buf{0x51});
  CHECK(exception_codec::decode(Value(2)).stop_iteration == false);
}

TEST_CASE("a deprecated string exception becomes a RemoteError carrying the string") {
  ExceptionInfo info = exception_codec::decode(Value("old style"));
  CHECK(is_generic(info));
  CHECK(info.message() == "old style");
}

TEST_CASE("malformed vinegar shapes become a generic RemoteError without throwing") {
  Value good_names = tuple_of("builtins", "ValueError");
  std::vector<std::pair<const char*, Value>> shapes = {
      {"an int 7", Value(7)},
      {"a 2-tuple", tuple_of(good_names, Tuple{})},
      {"a non-str class name", tuple_of(tuple_of("builtins", 5), Tuple{}, Tuple{}, "tb")},
      {"a 3-tuple class", tuple_of(tuple_of("a", "b", "c"), Tuple{}, Tuple{}, "tb")},
      {"args not a tuple", tuple_of(good_names, "args", Tuple{}, "tb")},
      {"attrs not pairs", tuple_of(good_names, Tuple{}, tuple_of(tuple_of(1, 2)), "tb")},
      {"attrs not a tuple", tuple_of(good_names, Tuple{}, None{}, "tb")},
      {"traceback not a str", tuple_of(good_names, Tuple{}, Tuple{}, Bytes{"tb"})},
      {"a reference", Value(RemoteRefPtr{})},
      {"None", Value()},
  };
  for (const auto& [what, wire] : shapes) {
    CAPTURE(what);
    ExceptionInfo info;
    CHECK_NOTHROW(info = exception_codec::decode(wire));
    CHECK(is_generic(info));
    CHECK(info.message().find("malformed remote exception") != std::string::npos);
  }
}

TEST_CASE("a 10 MiB message and traceback are capped to 64 KiB on a UTF-8 boundary") {
  std::string huge;
  huge.reserve(10u << 20);
  while (huge.size() < (10u << 20)) huge.append("\u00e9\u2603");  // 2- and 3-byte characters
  Value wire = tuple_of(tuple_of("builtins", "ValueError"), tuple_of(huge, 1),
                        tuple_of(tuple_of("note", huge)), huge);
  ExceptionInfo info = exception_codec::decode(wire);
  const std::string marker = "...[truncated]";
  std::string message = info.message();
  for (const std::string* s :
       {&message, &info.traceback, info.attrs.at(0).second.get_if<std::string>()}) {
    REQUIRE(s != nullptr);
    CHECK(s->size() <= exception_codec::max_text_bytes);
    CHECK(s->size() > exception_codec::max_text_bytes - 8);
    CHECK(s->substr(s->size() - marker.size()) == marker);
    CHECK(brine::is_valid_utf8(*s));
  }
  CHECK(info.args.at(1) == Value(1));
}

TEST_CASE("args and attributes holding references go as their rendering") {
  ExceptionInfo info;
  info.class_name = "TypeError";
  info.args = {Value("bad"), tuple_of(1, RemoteRefPtr{})};
  info.attrs = {{"obj", Value(ObjectPtr{})}};
  Value wire = exception_codec::encode(info);
  CHECK(brine::dumpable(wire));
  CHECK(items(wire)[1] == tuple_of("bad", "(1, <netref>)"));
  CHECK(items(items(wire)[2])[0] == tuple_of("obj", "<local object>"));
  CHECK_NOTHROW(brine::encode(wire));
}

TEST_CASE("a message that is not UTF-8 still gets through, with replacement characters") {
  ExceptionInfo info;
  info.class_name = "RuntimeError";
  info.args = {Value(std::string("caf\xe9 \xff!"))};
  info.traceback = "\xc3";
  Value wire = exception_codec::encode(info);
  Buf bytes;
  REQUIRE_NOTHROW(bytes = brine::encode(wire));
  ExceptionInfo back = exception_codec::decode(brine::decode(bytes));
  CHECK(back.message() == "caf\uFFFD \uFFFD!");
  CHECK(back.traceback == "\uFFFD");
}

TEST_CASE("message() is args[0] when a str, a rendering otherwise, empty with no args") {
  ExceptionInfo info;
  CHECK(info.message().empty());
  info.args = {Value(42)};
  CHECK(info.message() == "42");
  info.args = {Value(1), Value("a")};
  CHECK(info.message() == "(1, 'a')");
  info.args = {Value("first"), Value(2)};
  CHECK(info.message() == "first");
  Tuple big;
  for (int i = 0; i < 100000; ++i) big.items.emplace_back(i);
  info.args = {Value(std::move(big))};
  CHECK(info.message().size() <= 1024);
}

namespace {
ExceptionInfo quota_exceeded() {
  ExceptionInfo info;
  info.module = "app.errors";
  info.class_name = "QuotaExceeded";
  info.args = {Value("over")};
  return info;
}
}  // namespace

TEST_CASE("a handler's exceptions travel by kind: a conversion failure is the peer's TypeError, a remote one keeps its class") {
  const auto conversion = describe_exception(std::make_exception_ptr(ConversionError("expected int, got str")), "CALL");
  CHECK(conversion.module == "builtins");
  CHECK(conversion.class_name == "TypeError");
  CHECK(conversion.message() == "expected int, got str");
  const auto passed_on = describe_exception(std::make_exception_ptr(RemoteError(quota_exceeded())), "CALL");
  CHECK(passed_on.module == "app.errors");
  CHECK(passed_on.class_name == "QuotaExceeded");
  const auto standard = describe_exception(std::make_exception_ptr(std::invalid_argument("bad")), "CALL");
  CHECK(standard.class_name == "ValueError");
}
