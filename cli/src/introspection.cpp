#include "introspection.hpp"

#include <algorithm>
#include <map>
#include <string_view>
#include <utility>

#include "netref/protocol/connection.hpp"
#include "netref/proxy/proxy.hpp"
#include "options.hpp"
#include "value_text.hpp"

namespace netref::cli {
namespace {

constexpr std::string_view exposed_prefix = "exposed_";

Value fetch(const RemoteRefPtr& root, const std::vector<std::string>& path) {
  Proxy proxy{Value(root)};
  for (const auto& name : path) proxy = proxy.attr(name);
  return std::move(proxy).value();
}

std::string joined_path(const std::vector<std::string>& path) {
  std::string out;
  for (const auto& name : path) out += (out.empty() ? "" : ".") + name;
  return out;
}

Value id_number(std::uint64_t n) {
  if (n <= static_cast<std::uint64_t>(INT64_MAX)) return Value(static_cast<std::int64_t>(n));
  return Value(BigInt{std::to_string(n)});
}

/// INSPECT: (name, doc) for each method the server reports; empty when it declines.
std::map<std::string, std::string> inspect(const RemoteRefPtr& ref) {
  std::map<std::string, std::string> methods;
  const IdPack& id = ref->id_pack();
  Value reply;
  try {
    reply = ref->connection()->sync_request(
        Handler::inspect, values_of(tuple_of(id.type_name, id_number(id.type_id), id_number(id.object_id))));
  } catch (const RemoteError&) {
    return methods;  // not every object can be inspected (a forwarded one, say)
  }
  if (const auto* entries = reply.get_if<Tuple>()) {
    for (const auto& entry : entries->items) {
      const auto* pair = entry.get_if<Tuple>();
      if (pair == nullptr || pair->items.size() != 2) continue;
      const auto* name = pair->items[0].get_if<std::string>();
      const auto* doc = pair->items[1].get_if<std::string>();
      if (name != nullptr) methods[*name] = doc != nullptr ? *doc : std::string();
    }
  }
  return methods;
}

/// DIR: every name the object reports, in the server's order.
std::vector<std::string> dir(const RemoteRefPtr& ref) {
  std::vector<std::string> names;
  Value reply = ref->connection()->sync_request(Handler::dir, values_of(Value(ref)));
  if (const auto* items = reply.get_if<Tuple>()) {
    for (const auto& item : items->items) {
      if (const auto* name = item.get_if<std::string>()) names.push_back(*name);
    }
  }
  return names;
}

std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    const auto end = text.find('\n');
    lines.emplace_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

std::string trimmed(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(first, last - first + 1));
}

/// A docstring as Python's inspect.cleandoc shows it: the common indentation of the lines
/// after the first removed, blank lines at either end dropped.
std::vector<std::string> cleaned_doc(std::string_view doc) {
  std::vector<std::string> lines = lines_of(doc);
  std::size_t indent = std::string::npos;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const auto first = lines[i].find_first_not_of(' ');
    if (first != std::string::npos) indent = std::min(indent, first);
  }
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i == 0) {
      lines[i] = trimmed(lines[i]);
    } else if (indent != std::string::npos) {
      lines[i] = lines[i].size() > indent ? lines[i].substr(indent) : trimmed(lines[i]);
    }
  }
  while (!lines.empty() && trimmed(lines.back()).empty()) lines.pop_back();
  while (!lines.empty() && trimmed(lines.front()).empty()) lines.erase(lines.begin());
  return lines;
}

std::string doc_of(const RemoteRefPtr& ref) {
  try {
    Value doc = ref->getattr("__doc__");
    if (const auto* text = doc.get_if<std::string>()) return *text;
  } catch (const RemoteError&) {
  }
  return {};
}

/// Whether the server lets us read public names that lack the exposed_ prefix: asks for one
/// public method (reading a method has no side effect). False when there is none.
bool public_names_reachable(const RemoteRefPtr& ref, const std::vector<std::string>& names,
                            const std::map<std::string, std::string>& methods) {
  for (const auto& name : names) {
    if (name.starts_with('_') || name.starts_with(exposed_prefix) || methods.count(name) == 0) continue;
    try {
      ref->getattr(name);
      return true;
    } catch (const RemoteError&) {
      return false;
    }
  }
  return false;
}

/// A name as `ls` shows it, with what INSPECT said of it (a signature or a docstring).
struct Entry {
  std::string name;
  std::string doc;
};

/// The names a client can use, in the server's order. rpyc services expose exposed_<name> as
/// <name>, and their other public names only when the server allows public attributes (the
/// classic server allows all).
std::vector<Entry> visible_entries(const RemoteRefPtr& ref, const std::vector<std::string>& names,
                                   const std::map<std::string, std::string>& methods) {
  const bool exposed_convention = std::any_of(names.begin(), names.end(), [](const std::string& n) {
    return n.starts_with(exposed_prefix);
  });
  const bool public_reachable = !exposed_convention || public_names_reachable(ref, names, methods);
  std::vector<Entry> entries;
  for (const auto& name : names) {
    std::string shown = name;
    if (exposed_convention && name.starts_with(exposed_prefix)) {
      shown = name.substr(exposed_prefix.size());
    } else if (name.starts_with('_') || !public_reachable) {
      continue;
    }
    if (std::any_of(entries.begin(), entries.end(), [&](const Entry& e) { return e.name == shown; })) continue;
    const auto method = methods.find(name);
    entries.push_back({shown, method == methods.end() ? std::string() : method->second});
  }
  return entries;
}

/// One line a signature (a netref server's docs are its overloads' signatures), or a name and
/// the first line of its docstring, aligned.
std::vector<std::string> entry_lines(const std::vector<Entry>& entries, bool docs_are_signatures) {
  std::size_t width = 0;
  for (const auto& e : entries) width = std::max(width, e.name.size());
  std::vector<std::string> lines;
  for (const auto& e : entries) {
    if (docs_are_signatures && !e.doc.empty()) {
      for (auto& signature : lines_of(e.doc)) lines.push_back(std::move(signature));
      continue;
    }
    const auto doc = cleaned_doc(e.doc);
    if (doc.empty()) {
      lines.push_back(e.name);
    } else {
      lines.push_back(e.name + std::string(width - e.name.size() + 2, ' ') + "# " + doc.front());
    }
  }
  return lines;
}

std::string plain_value_line(const std::vector<std::string>& path, const Value& value) {
  return joined_path(path) + " = " + python_repr(value) + "  (" + std::string(value.type_name()) + ")";
}

}  // namespace

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> names;
  std::string_view rest = path;
  for (;;) {
    const auto dot = rest.find('.');
    const std::string_view name = rest.substr(0, dot);
    if (name.empty()) throw UsageError("'" + path + "' is not a dotted path of names (make_counter, a.b)");
    names.emplace_back(name);
    if (dot == std::string_view::npos) return names;
    rest.remove_prefix(dot + 1);
  }
}

std::vector<std::string> list_names(const RemoteRefPtr& root, const std::vector<std::string>& path) {
  Value target = fetch(root, path);
  const auto* ref = target.get_if<RemoteRefPtr>();
  if (ref == nullptr || !*ref) return {plain_value_line(path, target)};
  const auto methods = inspect(*ref);
  const auto entries = visible_entries(*ref, dir(*ref), methods);
  if (entries.empty() && methods.count("__call__") != 0 && !path.empty()) return describe_name(root, path);
  return entry_lines(entries, (*ref)->connection()->peer_is_netref());
}

std::vector<std::string> describe_name(const RemoteRefPtr& root, const std::vector<std::string>& path) {
  Value target = fetch(root, path);
  const auto* ref = target.get_if<RemoteRefPtr>();
  if (ref == nullptr || !*ref) return {plain_value_line(path, target)};
  std::vector<std::string> lines;
  std::string signatures;
  if ((*ref)->connection()->peer_is_netref()) {
    const auto methods = inspect(*ref);
    if (auto call = methods.find("__call__"); call != methods.end()) signatures = call->second;
  }
  if (signatures.empty()) {
    lines.push_back(joined_path(path));
  } else {
    lines = lines_of(signatures);
  }
  lines.push_back("type: " + (*ref)->id_pack().type_name);
  const std::string doc = doc_of(*ref);
  if (!trimmed(doc).empty() && doc != signatures) {
    lines.emplace_back();
    for (auto& line : cleaned_doc(doc)) lines.push_back(std::move(line));
  }
  return lines;
}

}  // namespace netref::cli
