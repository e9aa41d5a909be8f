#pragma once

#include "optischema/pg/conninfo.hpp"
#include "optischema/util/error.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace optischema::pg {

/// Facts about the connected server and role, read once per connection.
struct server_facts {
  int version_num = 0; ///< e.g. 150004
  std::string version; ///< e.g. "15.4"
  std::string database;
  std::string user;
  bool superuser = false;
  /// Member of pg_read_all_stats (directly or through pg_monitor): sees the
  /// text of every role's statements.
  bool read_all_stats = false;
};

/// What the operator allows a statement to call beyond pg_catalog's
/// IMMUTABLE and STABLE functions (see safety.hpp).
struct execution_policy {
  /// "schema.name": functions allowed whatever their schema and volatility
  /// (--allow-function). dblink is never allowed.
  std::vector<std::string> functions;
  /// Extensions whose IMMUTABLE and STABLE functions count as pg_catalog's
  /// (--allow-extension), e.g. citext, pg_trgm, postgis.
  std::vector<std::string> extensions;
};

/// One connection to a target, owned by exactly one actor. Connects lazily,
/// sets statement and lock timeouts, and turns every libpqxx exception into a
/// failure whose message says what to do.
class session {
public:
  struct options {
    std::chrono::milliseconds statement_timeout{10'000};
    std::chrono::milliseconds lock_timeout{1'000};
    /// Unset: the process's default policy (safety.hpp).
    std::optional<execution_policy> policy;
  };

  explicit session(conninfo target);
  session(conninfo target, options opts);
  ~session();
  session(session&&) noexcept;
  session& operator=(session&&) noexcept;

  /// Connects unless connected; returns the server facts.
  expected<server_facts> connect();
  bool connected() const;
  /// Drops the connection (the next call reconnects).
  void disconnect();
  /// Leaves nothing of what a statement did to the session behind: DISCARD
  /// ALL (prepared statements, cursors, temporary tables, settings, advisory
  /// locks, LISTEN) and the engine's settings again (timeouts,
  /// standard_conforming_strings = on). hypopg's hypothetical indexes
  /// survive it. Drops the connection when that fails.
  void reset_state();

  const conninfo& target() const {
    return target_;
  }
  const server_facts& facts() const {
    return facts_;
  }
  const options& opts() const {
    return opts_;
  }

  /// Implementation access for the readers in this library.
  struct impl;
  impl& get_impl() {
    return *impl_;
  }

private:
  conninfo target_;
  options opts_;
  server_facts facts_;
  std::unique_ptr<impl> impl_;
};

} // namespace optischema::pg
