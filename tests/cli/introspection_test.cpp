// What `ls` and `describe` take as a PATH: dotted attribute names.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "introspection.hpp"
#include "options.hpp"

using namespace netref::cli;

TEST_CASE("a dotted path splits into its names") {
  CHECK(split_path("make_counter") == std::vector<std::string>{"make_counter"});
  CHECK(split_path("a.b.c") == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("a path with an empty part is a usage error") {
  for (const char* path : {"", ".", "a.", ".a", "a..b"}) {
    CAPTURE(path);
    CHECK_THROWS_WITH_AS(split_path(path),
                         ("'" + std::string(path) + "' is not a dotted path of names (make_counter, a.b)").c_str(),
                         UsageError);
  }
}
