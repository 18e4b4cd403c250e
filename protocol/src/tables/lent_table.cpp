// LentTable (lent_table.hpp).
#include "lent_table.hpp"

#include <string>

#include "../forwarding_object.hpp"
#include "netref/protocol/errors.hpp"

namespace netref::detail {

std::uint64_t LentTable::lend(const ObjectPtr& object, const Caps& caps) {
  if (auto found = ids_.find(object.get()); found != ids_.end()) {
    ++entries_.at(found->second).count;
    return found->second;
  }
  if (entries_.size() >= caps.per_connection) {
    throw Error("too many objects lent to the peer (max_lent_objects = " + std::to_string(caps.per_connection) + ")");
  }
  if (ProcessLentShare::total().load(std::memory_order_relaxed) >= caps.per_process) {
    throw Error("too many objects lent by this process over all its connections (max_lent_objects_in_process = " +
                std::to_string(caps.per_process) + ")");
  }
  const std::uint64_t id = next_id_++;
  entries_.emplace(id, LentEntry{object, 1, {}});
  ids_.emplace(object.get(), id);
  return id;
}

std::pair<std::uint64_t, ObjectPtr> LentTable::lend_forwarded(const RemoteRefPtr& ref, const Caps& caps) {
  if (auto found = forwarded_ids_.find(ref.get()); found != forwarded_ids_.end()) {
    auto& entry = entries_.at(found->second);
    ++entry.count;
    return {found->second, entry.object};
  }
  ObjectPtr forwarder = std::make_shared<ForwardingObject>(ref);
  const std::uint64_t id = lend(forwarder, caps);
  entries_.at(id).forwarded = ref;
  forwarded_ids_.emplace(ref.get(), id);
  return {id, std::move(forwarder)};
}

void LentTable::erase(Entries::iterator entry) noexcept {
  ids_.erase(entry->second.object.get());
  if (entry->second.forwarded) forwarded_ids_.erase(entry->second.forwarded.get());
  entries_.erase(entry);
}

void LentTable::rollback(std::span<const Object* const> objects, std::vector<ObjectPtr>& dropped) noexcept {
  for (const Object* object : objects) {
    auto id = ids_.find(object);
    if (id == ids_.end()) continue;
    auto entry = entries_.find(id->second);
    if (entry == entries_.end()) continue;
    if (--entry->second.count == 0) {
      dropped.push_back(entry->second.object);
      erase(entry);
    }
  }
}

ObjectPtr LentTable::find(std::uint64_t id, std::string_view type_name) const {
  auto entry = entries_.find(id);
  if (entry == entries_.end() || entry->second.object->type_name() != type_name) return nullptr;
  return entry->second.object;
}

Value LentTable::find_value(std::uint64_t id, std::string_view type_name) const {
  auto entry = entries_.find(id);
  if (entry == entries_.end() || entry->second.object->type_name() != type_name) return Value();
  if (entry->second.forwarded) return Value(entry->second.forwarded);
  return Value(entry->second.object);
}

bool LentTable::put_value(std::uint64_t id, std::string_view type_name, Value& out) const {
  auto entry = entries_.find(id);
  if (entry == entries_.end() || entry->second.object->type_name() != type_name) return false;
  if (entry->second.forwarded) {
    out.storage().emplace<RemoteRefPtr>(entry->second.forwarded);
  } else {
    out.storage().emplace<ObjectPtr>(entry->second.object);
  }
  return true;
}

ObjectPtr LentTable::release(std::uint64_t id, std::uint64_t count) {
  auto entry = entries_.find(id);
  if (entry == entries_.end()) throw ProtocolError("release of unknown object id " + std::to_string(id));
  if (count > entry->second.count) {
    throw ProtocolError("release of " + std::to_string(count) + " references to object id " + std::to_string(id) +
                        ", which was lent " + std::to_string(entry->second.count) + " times");
  }
  entry->second.count -= count;
  if (entry->second.count != 0) return nullptr;
  ObjectPtr dropped = entry->second.object;
  erase(entry);
  return dropped;
}

std::uint64_t LentTable::count_of(const Object& object) const noexcept {
  auto id = ids_.find(&object);
  if (id == ids_.end()) return 0;
  auto entry = entries_.find(id->second);
  return entry == entries_.end() ? 0 : entry->second.count;
}

LentTable::Entries LentTable::take_all() noexcept {
  ids_.clear();
  forwarded_ids_.clear();
  return std::exchange(entries_, {});
}

}  // namespace netref::detail
