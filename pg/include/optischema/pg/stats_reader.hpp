#pragma once

#include "optischema/analysis/metrics.hpp"
#include "optischema/pg/session.hpp"
#include "optischema/util/error.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace optischema::pg {

/// Reads pg_stat_statements (entries of the connected database only),
/// pg_stat_statements_info where the server has it, and pg_stat_database, in
/// the column names of PostgreSQL 13 to 17. Connects if needed; on a lost
/// connection the session is dropped so the next call reconnects.
///
/// Failures say what to do: a missing extension names the CREATE EXTENSION
/// to run, a missing preload names the postgresql.conf line, a missing
/// privilege names the GRANT.
///
/// With `known`, rows come without their text unless `known` says their
/// queryid is new: the caller keeps what it learnt of each queryid's text,
/// and a poll of a steady workload does not move every text again. The
/// first read of a target then costs one query more.
using known_text = std::function<bool(int64_t queryid)>;
expected<raw_sample> read_sample(session& s, const known_text& known = {});

/// pg_stat_statements of one server, read once for all the targets that
/// reach it as the same role (same `server_key`), over one connection.
///
/// Why: pg_stat_statements is server-wide. A read per database costs the
/// server a scan of every entry of every database (and, connecting per
/// poll, a backend start), so N databases of one server cost N times the
/// work of one read. Here a read within `fresh_for` of the last one is
/// served from it, split by dbid; only each target's new texts and its
/// pg_stat_database row are read for it alone.
///
/// Safe to share between actors: reads take turns (a mutex; libpq blocks
/// anyway). The connection goes to the database of the target that finds
/// it closed, and is dropped after a failure so the next read may try
/// another: a target whose own database lacks the extension is still
/// counted when another database of the server has it.
class server_reader {
public:
  explicit server_reader(std::chrono::milliseconds fresh_for);
  ~server_reader();
  server_reader(const server_reader&) = delete;
  server_reader& operator=(const server_reader&) = delete;

  /// `target`'s sample, as read_sample(session, known) reads it: rows of
  /// its database, texts of the queryids `known` does not know.
  expected<raw_sample> read(const conninfo& target, const known_text& known);

  /// The facts of the open connection, if any.
  std::optional<server_facts> facts() const;

  /// How many server-wide reads were made (the rest were shared).
  uint64_t server_reads() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Which targets may share a server_reader: the settings libpq reads from
/// `target` but the database name. Holds secrets (the password): a map key,
/// never log or show it.
expected<std::string> server_key(const conninfo& target);

} // namespace optischema::pg
