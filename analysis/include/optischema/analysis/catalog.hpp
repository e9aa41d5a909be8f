#pragma once

// What the advisor knows about a target's schema and statistics: tables,
// columns with their pg_stats, indexes of every access method, foreign keys
// and a few settings. Read by pg/catalog_reader; built by hand in tests.
// Names are unquoted, as PostgreSQL stores them.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace optischema {

struct column_info {
  std::string name;
  /// format_type() of the column, e.g. "integer", "text", "jsonb",
  /// "timestamp with time zone", "integer[]".
  std::string type;
  int attnum = 0;
  bool not_null = false;
  // -- pg_stats (absent until ANALYZE) --
  bool has_stats = false;
  /// pg_stats.n_distinct: > 0 a count, < 0 a fraction of the rows.
  double n_distinct = 0;
  double null_frac = 0;
  int avg_width = 0;
  double correlation = 0;
  std::vector<std::string> most_common_vals;
  std::vector<double> most_common_freqs;
  /// A value that is not one of the most common (the middle bound of
  /// pg_stats.histogram_bounds, which leaves them out); read only where
  /// there are most common values: costing a statement on it shows what a
  /// rare value costs beside a frequent one.
  std::optional<std::string> rare_value;

  /// Distinct values for a table of `rows` rows (n_distinct resolved).
  double distinct_values(double rows) const;
};

struct index_info {
  uint32_t oid = 0;
  std::string schema;
  std::string name;
  /// "btree", "hash", "gin", "gist", "brin", "spgist", …
  std::string am;
  /// Key elements: a column name, or an expression as pg_get_indexdef
  /// prints it (e.g. "lower(last_name)"), each optionally followed by
  /// " DESC" / " NULLS FIRST" as in the definition.
  std::vector<std::string> keys;
  /// Operator classes of the keys, empty where default.
  std::vector<std::string> opclasses;
  std::vector<std::string> include;
  /// The partial index predicate, as pg_get_expr prints it; empty if none.
  std::string predicate;
  bool unique = false;
  bool primary = false;
  /// Backs a constraint (primary key, unique, exclusion): never dropped.
  bool constraint_backed = false;
  bool valid = true;
  bool ready = true;
  int64_t size_bytes = 0;
  /// pg_stat_user_indexes.idx_scan since the statistics reset.
  int64_t scans = 0;
  /// pg_get_indexdef(): the CREATE INDEX statement.
  std::string definition;
};

struct foreign_key_info {
  std::string name;
  std::vector<std::string> columns;
  std::string ref_schema;
  std::string ref_table;
  std::vector<std::string> ref_columns;
};

struct table_info {
  uint32_t oid = 0;
  std::string schema;
  std::string name;
  /// pg_class.relkind: 'r' table, 'p' partitioned, 'v' view, 'm' matview,
  /// 'f' foreign table.
  char kind = 'r';
  /// For partitions: the partitioned parent ("schema.name").
  std::string parent;
  /// For views: the view's definition (pg_get_viewdef).
  std::string view_definition;
  double reltuples = 0;
  int64_t relpages = 0;
  int64_t size_bytes = 0;
  std::vector<column_info> columns;
  std::vector<index_info> indexes;
  std::vector<foreign_key_info> foreign_keys;
  // -- pg_stat_user_tables --
  int64_t seq_scan = 0;
  int64_t idx_scan = 0;
  int64_t n_tup_ins = 0;
  int64_t n_tup_upd = 0;
  int64_t n_tup_hot_upd = 0;
  int64_t n_tup_del = 0;
  int64_t n_live_tup = 0;
  int64_t n_mod_since_analyze = 0;
  /// Latest of last_analyze and last_autoanalyze, epoch ms; 0 if never.
  int64_t last_analyzed_ms = 0;

  const column_info* column(const std::string& name) const;
  /// Estimated rows: reltuples when analyzed, else n_live_tup.
  double rows() const;
  std::string qualified() const { return schema + "." + name; }
};

/// The planner's cost settings of the target (pg_settings).
struct planner_costs {
  double seq_page_cost = 1.0;
  double random_page_cost = 4.0;
  double cpu_tuple_cost = 0.01;
  double cpu_index_tuple_cost = 0.005;
  double cpu_operator_cost = 0.0025;
  /// effective_cache_size in 8 kB pages.
  double effective_cache_pages = 524288;
};

struct catalog {
  std::vector<table_info> tables;
  /// The role's search_path, resolved to existing schemas, in order.
  std::vector<std::string> search_path = {"public"};
  int server_version = 150000;
  int64_t work_mem_kb = 4096;
  planner_costs costs;
  /// When pg_stat_user_indexes/tables counters were last reset (epoch ms),
  /// from pg_stat_database.stats_reset; 0 if unknown.
  int64_t stats_reset_ms = 0;
  bool hypopg_installed = false;
  bool pg_trgm_installed = false;
  /// The extension can be created (its files exist on the server).
  bool pg_trgm_available = false;

  /// Finds a table by schema and name; an empty schema searches the
  /// search_path in order, as PostgreSQL resolves unqualified names.
  const table_info* find(const std::string& schema, const std::string& name) const;
};

} // namespace optischema
