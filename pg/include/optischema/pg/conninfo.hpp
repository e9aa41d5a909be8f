#pragma once

#include "optischema/util/error.hpp"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace optischema::pg {

/// A connection string (URI or key=value, as libpq takes them) checked by
/// libpq's own parser. Missing parts come from PG* variables at connect time.
struct conninfo {
  /// The string as given; contains secrets, never log or show it.
  std::string raw;
  /// What the engine connects with: `raw` as key=value plus the engine's
  /// own settings (application_name, connect_timeout) unless given.
  std::string effective;
  /// `user@host:port/dbname` with defaults resolved and no password: safe
  /// for logs and the API.
  std::string display;
  /// The database name (resolved like libpq does), used to name a target.
  std::string dbname;
};

/// Parses `dsn` with PQconninfoParse. An error says what is wrong in it.
/// `extra` key/value pairs are added to `effective` unless `dsn` sets them.
expected<conninfo>
parse_conninfo(const std::string& dsn,
               const std::vector<std::pair<std::string, std::string>>& extra
               = {{"application_name", "optischema"},
                  {"connect_timeout", "5"}});

/// The settings `dsn` gives, as libpq's own parser (PQconninfoParse) reads
/// them: keyword to value, empty values left out. Fails with libpq's message
/// when it does not parse (the message may quote the DSN: redact it).
expected<std::map<std::string, std::string>>
conninfo_settings(const std::string& dsn);

/// Quotes a value for a key=value connection string.
std::string quote_conninfo_value(const std::string& x);

} // namespace optischema::pg
