#pragma once

#include "optischema/pg/conninfo.hpp"
#include "optischema/util/error.hpp"

#include <chrono>
#include <memory>
#include <string>

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

/// One connection to a target, owned by exactly one actor. Connects lazily,
/// sets statement and lock timeouts, and turns every libpqxx exception into a
/// failure whose message says what to do.
class session {
public:
  struct options {
    std::chrono::milliseconds statement_timeout{10'000};
    std::chrono::milliseconds lock_timeout{1'000};
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

  const conninfo& target() const {
    return target_;
  }
  const server_facts& facts() const {
    return facts_;
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
