#pragma once

// Which engine of a fleet polls which target: rendezvous (highest random
// weight) hashing. Every engine computes the same answer from the same
// member list, with no coordination; when an engine joins or leaves, only
// the targets it gains or held move, so a leave or a join never reshuffles
// the rest (their history and connections stay where they are).

#include <string>
#include <string_view>
#include <vector>

namespace optischema::broker {

/// The member of `members` that owns `target`; "" when there is none.
std::string owner_of(std::string_view target,
                     const std::vector<std::string>& members);

/// A fleet name (a NATS key-value bucket's: letters, digits, '-', '_') or,
/// with `allow_dot`, an engine id (a key's: also '.', not leading, trailing
/// or doubled); 1 to 64 characters. Empty when valid, else what is wrong.
std::string check_fleet_name(std::string_view what, std::string_view name,
                             bool allow_dot);

} // namespace optischema::broker
