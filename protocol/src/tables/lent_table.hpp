#pragma once
// The objects a connection lends its peer: each under an id, with how many times the peer
// received it.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "netref/protocol/object.hpp"
#include "netref/protocol/remote_ref.hpp"

namespace netref::detail {

/// One lent object's share of the process-wide count (ConnectionConfig::
/// max_lent_objects_in_process): counted while its entry exists, however the entry goes
/// (released, rolled back, dropped with its connection).
class ProcessLentShare {
 public:
  ProcessLentShare() noexcept { total().fetch_add(1, std::memory_order_relaxed); }
  ProcessLentShare(ProcessLentShare&& other) noexcept : held_(std::exchange(other.held_, false)) {}
  ProcessLentShare& operator=(ProcessLentShare&& other) noexcept {
    if (this != &other) {
      release();
      held_ = std::exchange(other.held_, false);
    }
    return *this;
  }
  ~ProcessLentShare() { release(); }
  /// Distinct objects lent now, over every connection of the process.
  static std::atomic<std::size_t>& total() noexcept {
    static std::atomic<std::size_t> count{0};
    return count;
  }

 private:
  void release() noexcept {
    if (held_) total().fetch_sub(1, std::memory_order_relaxed);
    held_ = false;
  }
  bool held_ = true;
};

/// One object we lend: the object, and how many times the peer received it.
struct LentEntry {
  ObjectPtr object;
  std::uint64_t count = 0;  // a release of n lowers it; at 0 the entry goes
  ProcessLentShare share;   // counts the entry against the process-wide cap
  RemoteRefPtr forwarded;   // set when object forwards this netref of another connection
};

/// Lent objects by id, and ids by object. Ids count up from 1 and are never reused (0
/// means "class" on the wire). A netref of another connection is lent as one forwarder per
/// netref, so that it keeps one id however often it is sent, and comes home as itself. Not locked: the connection holds its tables lock. Objects
/// leave the table through what its members return, so that their destructors (user code)
/// run after the lock is released.
class LentTable {
 public:
  struct Caps {
    std::size_t per_connection;  // ConnectionConfig::max_lent_objects
    std::size_t per_process;     // ConnectionConfig::max_lent_objects_in_process
  };
  using Entries = std::unordered_map<std::uint64_t, LentEntry>;

  /// Lends object once more and returns its id. A new object past a cap throws Error.
  std::uint64_t lend(const ObjectPtr& object, const Caps& caps);
  /// Lends the netref of another connection once more (its forwarder: made on the first
  /// lend) and returns the id and the forwarder. Past a cap, throws Error.
  std::pair<std::uint64_t, ObjectPtr> lend_forwarded(const RemoteRefPtr& ref, const Caps& caps);
  /// Takes back one lend of each object (a message that was not sent); entries that reach
  /// zero go into dropped.
  void rollback(std::span<const Object* const> objects, std::vector<ObjectPtr>& dropped) noexcept;
  /// The object lent under id, if its type is type_name; null for anything else (a forged
  /// id, another connection's, a released one: the same answer, no oracle).
  ObjectPtr find(std::uint64_t id, std::string_view type_name) const;
  /// What the peer means when it sends back the id: the object, or for a forwarder the
  /// netref it forwards (the original, not a wrapper); None when find finds nothing.
  Value find_value(std::uint64_t id, std::string_view type_name) const;
  /// find_value written straight into out (a request's slot); false, out untouched, when
  /// find finds nothing.
  bool put_value(std::uint64_t id, std::string_view type_name, Value& out) const;
  /// The peer released count of its references to id: the object, if that was the last.
  /// Throws ProtocolError for an id not lent or more releases than lends.
  ObjectPtr release(std::uint64_t id, std::uint64_t count);
  /// How many times object is lent now (0 if it is not).
  std::uint64_t count_of(const Object& object) const noexcept;
  /// Every entry, taken out (the connection is closing).
  Entries take_all() noexcept;
  std::size_t size() const noexcept { return entries_.size(); }

 private:
  void erase(Entries::iterator entry) noexcept;

  Entries entries_;
  std::unordered_map<const Object*, std::uint64_t> ids_;
  std::unordered_map<const RemoteRef*, std::uint64_t> forwarded_ids_;
  std::uint64_t next_id_ = 1;
};

}  // namespace netref::detail
