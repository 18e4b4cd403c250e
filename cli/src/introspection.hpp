#pragma once
// What `ls` and `describe` print: the names an object exposes (DIR), their signatures
// (netref's INSPECT gives every overload's) or docstrings (a Python server's INSPECT and
// __doc__).
#include <string>
#include <vector>

#include "netref/protocol/remote_ref.hpp"

namespace netref::cli {

/// A dotted attribute path ("make_counter", "a.b"), split. Throws UsageError for an empty
/// part.
std::vector<std::string> split_path(const std::string& path);

/// The lines `ls` prints for the object at path (root when empty): one name a line, with its
/// signatures or the first line of its docstring. An object with no public names that can
/// be called prints its signature instead. Throws what the requests throw.
std::vector<std::string> list_names(const RemoteRefPtr& root, const std::vector<std::string>& path);

/// The lines `describe` prints for the object at path: signatures when the server gives
/// them, the type, and the documentation. Throws what the requests throw.
std::vector<std::string> describe_name(const RemoteRefPtr& root, const std::vector<std::string>& path);

}  // namespace netref::cli
