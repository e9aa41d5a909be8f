#pragma once

#include "optischema/util/error.hpp"

#include <cstddef>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace optischema {

/// What libpg_query says about one SQL text.
struct fingerprint_result {
  /// 16 hex digits. Equal for statements that differ only in constants,
  /// IN-list lengths or whitespace (libpg_query's fingerprint, as pganalyze,
  /// Dexter and PgHero use it).
  std::string fingerprint;
  /// The text with constants replaced by $n.
  std::string normalized;
  /// libpg_query could not parse the text (truncated, not SQL, hidden):
  /// `fingerprint` is then a hash of the whitespace-collapsed text, so the
  /// statement stays visible, flagged.
  bool parse_error = false;
  /// The parser's message when `parse_error`.
  std::string error;
  /// The text still holds a password after normalisation: `ALTER ROLE …
  /// PASSWORD '…'` (pg_stat_statements keeps utility statements verbatim
  /// before PostgreSQL 16), a server's or user mapping's OPTIONS (password
  /// '…'), or such a text that does not parse. `normalized` is then empty:
  /// the statement must not be kept, shown or published (scrub_texts drops
  /// it).
  bool secret = false;
  friend bool operator==(const fingerprint_result&, const fingerprint_result&)
    = default;
};

/// Fingerprints and normalises one SQL text with libpg_query. Constants
/// become $n in every statement, utility statements included (as
/// PostgreSQL 16+ does itself); a text libpg_query cannot parse gets its
/// quoted literals masked the same way, so no constant a database user wrote
/// is stored or published.
fingerprint_result fingerprint_statement(std::string_view sql);

/// Replaces every quoted literal ('…', E'…', $tag$…$tag$) of `sql` by $n,
/// numbered after the highest $n already in the text; comments are kept.
/// For texts libpg_query cannot parse (its normaliser needs a parse tree).
std::string mask_quoted_literals(std::string_view sql);

/// True when the word PASSWORD (any case) is followed by a quoted literal
/// somewhere after it: the text would disclose a password.
bool holds_password(std::string_view sql);

/// Splits SQL text into its statements with libpg_query's parser (comments,
/// strings and dollar quotes handled); a parse error is a failure.
expected<std::vector<std::string>> split_statements(std::string_view sql);

/// Rewrites what pg_stat_statements' normalisation produces but PostgreSQL
/// cannot parse: typed literals whose constant became a parameter
/// (`timestamptz $3`, `date $1`, `interval $2`) become casts
/// (`$3::timestamptz`). Other text is returned unchanged.
std::string reparsable_sql(std::string_view normalized);

/// The parse node type of the single statement in `sql` ("SelectStmt",
/// "InsertStmt", "UpdateStmt", "DeleteStmt", "VariableSetStmt", …); a
/// failure when it does not parse or holds more or less than one statement.
expected<std::string> single_statement_type(std::string_view sql);

/// A bounded least-recently-used cache of fingerprint results by text.
class fingerprint_cache {
public:
  explicit fingerprint_cache(size_t capacity = 100'000);
  // The index holds views into the list's nodes: moving keeps the nodes,
  // copying would not.
  fingerprint_cache(fingerprint_cache&&) = default;
  fingerprint_cache& operator=(fingerprint_cache&&) = default;
  fingerprint_cache(const fingerprint_cache&) = delete;
  fingerprint_cache& operator=(const fingerprint_cache&) = delete;

  /// Returns the cached result for `sql`, computing it on a miss.
  const fingerprint_result& get(const std::string& sql);

  size_t size() const {
    return map_.size();
  }
  size_t hits() const {
    return hits_;
  }
  size_t misses() const {
    return misses_;
  }

private:
  using entry = std::pair<std::string, fingerprint_result>;
  size_t capacity_;
  std::list<entry> lru_;
  std::unordered_map<std::string_view, std::list<entry>::iterator> map_;
  size_t hits_ = 0;
  size_t misses_ = 0;
};

} // namespace optischema
