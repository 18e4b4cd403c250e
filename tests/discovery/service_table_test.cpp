// The registry's table: registration, removal, queries, listing, pruning and limits.
#include <doctest/doctest.h>

#include "netref/discovery/detail/service_table.hpp"

using namespace netref;
using detail::ServiceTable;
using namespace std::chrono_literals;

TEST_CASE("a server registered under aliases is found by each, in any case, oldest first") {
  ServiceTable table({}, 240s);
  const auto t0 = ServiceTable::Clock::now();
  CHECK(table.add({"calc", "Adder"}, {"127.0.0.1", 2000}, t0));
  CHECK(table.add({"CALC"}, {"127.0.0.1", 1000}, t0 + 1s));
  CHECK(table.query("Calc", t0 + 2s) == std::vector<ServiceAddress>{{"127.0.0.1", 2000}, {"127.0.0.1", 1000}});
  CHECK(table.query("adder", t0 + 2s) == std::vector<ServiceAddress>{{"127.0.0.1", 2000}});
  CHECK(table.query("other", t0).empty());
  CHECK(table.names(std::nullopt) == std::vector<std::string>{"ADDER", "CALC"});
  CHECK(table.entry_count() == 3);
}

TEST_CASE("unregistering removes the server from every name, and only that server") {
  ServiceTable table({}, 240s);
  const auto now = ServiceTable::Clock::now();
  table.add({"A", "B"}, {"127.0.0.1", 1000}, now);
  table.add({"A"}, {"127.0.0.2", 1000}, now);
  CHECK(table.remove({"127.0.0.3", 1000}) == 0);  // another host cannot unregister it
  CHECK(table.remove({"127.0.0.1", 1000}) == 2);
  CHECK(table.query("A", now) == std::vector<ServiceAddress>{{"127.0.0.2", 1000}});
  CHECK(table.names(std::nullopt) == std::vector<std::string>{"A"});
  CHECK(table.entry_count() == 1);
}

TEST_CASE("LIST filtered by host names only that host's services") {
  ServiceTable table({}, 240s);
  const auto now = ServiceTable::Clock::now();
  table.add({"A"}, {"127.0.0.1", 1000}, now);
  table.add({"B"}, {"127.0.0.2", 1000}, now);
  CHECK(table.names(std::string("127.0.0.2")) == std::vector<std::string>{"B"});
  CHECK(table.names(std::string("10.0.0.1")).empty());
}

TEST_CASE("entries not refreshed within the prune timeout are not served, and prune drops them") {
  ServiceTable table({}, 10s);
  const auto t0 = ServiceTable::Clock::now();
  table.add({"A"}, {"127.0.0.1", 1000}, t0);
  table.add({"A"}, {"127.0.0.1", 2000}, t0 + 8s);
  CHECK(table.query("A", t0 + 11s) == std::vector<ServiceAddress>{{"127.0.0.1", 2000}});
  CHECK(table.prune(t0 + 11s) == 1);
  CHECK(table.entry_count() == 1);
  table.add({"A"}, {"127.0.0.1", 2000}, t0 + 15s);  // a refresh keeps it
  CHECK(table.prune(t0 + 20s) == 0);
  CHECK(table.prune(t0 + 26s) == 1);
  CHECK(table.name_count() == 0);
}

TEST_CASE("a registration past the limits changes nothing and is refused") {
  ServiceTable table({.max_names = 2, .max_entries = 3, .max_name_bytes = 8}, 240s);
  const auto now = ServiceTable::Clock::now();
  CHECK(table.add({"A", "B"}, {"127.0.0.1", 1}, now));
  CHECK_FALSE(table.add({"A", "C"}, {"127.0.0.1", 2}, now));  // a third name: all or nothing
  CHECK(table.query("A", now).size() == 1);
  CHECK(table.add({"A"}, {"127.0.0.1", 2}, now));
  CHECK_FALSE(table.add({"B"}, {"127.0.0.1", 3}, now));  // a fourth entry
  CHECK(table.add({"A", "B"}, {"127.0.0.1", 1}, now));   // a refresh adds nothing
  CHECK_FALSE(table.add({"123456789"}, {"127.0.0.1", 1}, now));
  CHECK_FALSE(table.add({""}, {"127.0.0.1", 1}, now));
  CHECK(table.entry_count() == 3);
  CHECK(table.name_count() == 2);
}
