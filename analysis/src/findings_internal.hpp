#pragma once

// What the findings rules share across their files (findings_text,
// findings_plan, findings_patterns, findings_workload): thresholds, the
// plan context, text and expression helpers. Private to the analysis
// library; the public interface is optischema/analysis/findings.hpp.

#include "optischema/analysis/findings.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace optischema::findings_detail {

// -- thresholds ---------------------------------------------------------------

/// Below ~10,000 rows (a few hundred 8 kB pages) a sequential scan costs about
/// what an index descent plus heap fetches cost, so it is not worth a
/// finding. PgHero suggests no index below 500 rows; we report later because
/// a finding should point at time actually lost.
constexpr double large_table_rows = 10'000;

/// A scan of a million rows or more takes tens to hundreds of milliseconds
/// per execution even fully cached: worth a DBA's attention first.
constexpr double huge_table_rows = 1'000'000;

/// A filter keeping at most 10% of the rows is where an index (or bitmap)
/// scan usually beats reading everything: PostgreSQL's own cost model flips
/// from index to sequential scans somewhere between a few and ~20% on
/// uncorrelated data, and pg_qualstats' advisor wants quals filtering at
/// least 30% (anchors 2.4); 10% is well inside that band.
constexpr double selective_fraction = 0.10;

/// pganalyze's Query Advisor example (anchors 2.5, 4) is 949,508 rows
/// removed; 10,000 rows discarded per execution is the point where the
/// wasted reads show in the statement's mean time (and it matches the large
/// table threshold above).
constexpr double rows_removed_min = 10'000;

/// At least 90% of what the node read was thrown away: the mirror image of
/// `selective_fraction`.
constexpr double rows_removed_share = 0.90;

/// From 100,000 rows discarded per execution the cost is tens of ms per call.
constexpr double rows_removed_high = 100'000;

/// Sorting fewer rows than this to return a LIMIT is cheap (top-N heapsort
/// in memory); above it the scan and the sort dominate the query.
constexpr double sort_input_rows = 10'000;

/// The inner side of a nested loop runs once per outer row; a sequential
/// scan there is only tolerable for small tables (same bar as above).
constexpr double nested_inner_rows = 10'000;

/// Outer rows × inner rows compared; 10 million comparisons is ~0.1 s of
/// CPU at ~10 ns per join-filter evaluation.
constexpr double nested_high_comparisons = 10'000'000;

/// PgHero makes no index suggestion for tables under 500 rows (anchors 2.2,
/// 4): the planner rightly reads such tables whole, so a non-indexable
/// predicate there is not a finding.
constexpr double tiny_table_rows = 500;

/// Statistics matter once a table has a few pages: under 1,000 rows any plan
/// is cheap whatever the estimates (pg_qualstats' min_filter is also 1,000).
constexpr double stale_min_rows = 1'000;

/// autovacuum_analyze_scale_factor defaults to 0.1: more than 10% of the rows
/// changed since the last ANALYZE means autoanalyze is behind or off.
constexpr double stale_mod_fraction = 0.10;

/// Foreign keys on tables under 1,000 rows are checked cheaply without an
/// index (a handful of pages per lookup).
constexpr double fk_min_rows = 1'000;

/// A per-row lookup shows up as at least 1,000 calls before it matters.
constexpr int64_t n_plus_one_min_calls = 1'000;

/// Single-row lookups by key take well under a millisecond; a slower
/// statement is a query worth tuning on its own, not an N+1 child.
constexpr double n_plus_one_max_mean_ms = 1.0;

/// One parent call must drive at least 3 child calls to be a loop at all.
constexpr double n_plus_one_min_ratio = 3;

/// Parent rows per call and child calls per parent call agree within 30%:
/// applications skip some children (nulls, cache hits) and the two entries'
/// counters are read at slightly different moments.
constexpr double n_plus_one_tolerance = 0.30;

/// Without a parent, a lookup must be very chatty to be reported.
constexpr int64_t chatty_min_calls = 10'000;

/// Child total time that makes an N+1 medium / high: a second of database
/// time (round trips come on top), a minute.
constexpr double n_plus_one_medium_ms = 1'000;

constexpr double n_plus_one_high_ms = 60'000;

/// Per-tuple memory of a sort or hash table beyond the data itself: the
/// SortTuple (24 B), the MinimalTuple header (16 B) and the allocator's
/// chunk header and alignment (~24 B). Used to say how much work_mem would
/// fit, so the advice actually avoids the spill.
constexpr double tuple_overhead_bytes = 64;

// -- text ---------------------------------------------------------------------

std::string count_text(double x);

/// "1 row", "~5 rows".
std::string rows_text(double x);

std::string percent_text(double fraction);

std::string bytes_text(double bytes);

/// A work_mem value (as SET accepts it) that holds `bytes`, rounded up.
std::string work_mem_text(double bytes);

bool starts_with(std::string_view x, std::string_view prefix);

void add_unique(std::vector<std::string>& xs, const std::string& x);

bool is_ident_start(char c);

bool is_ident_char(char c);

std::string quoted_relation(const std::string& qualified);

std::string column_list(const std::vector<std::string>& cols);

// -- expression text ----------------------------------------------------------

/// Index just past the string literal or quoted identifier starting at `i`.
size_t skip_quoted(std::string_view x, size_t i);

/// Index of the parenthesis closing the one at `open`, or npos.
size_t matching_paren(std::string_view x, size_t open);

/// Index of the parenthesis opening the one at `close`, or npos. (Walks
/// backwards, so it cannot skip literals; a parenthesis inside a literal
/// between the two is the rare case it gets wrong.)
size_t matching_open(std::string_view x, size_t close);

size_t skip_spaces(std::string_view x, size_t i);

/// Reads an identifier (plain or quoted) at `i`; returns it unquoted and
/// moves `i` past it.
std::string read_ident(std::string_view x, size_t& i);

/// Words a type name may continue with ("timestamp with time zone",
/// "character varying", "double precision").
bool type_word(std::string_view w);

/// Reads the type after "::" at `i` ("text", "timestamp with time zone",
/// "character varying(20)", "integer[]").
std::string read_type(std::string_view x, size_t& i);

/// Upper-case keywords and the few lower-case words EXPLAIN prints that are
/// not columns.
bool keyword(const std::string& w);

struct column_ref {
  std::string qualifier;
  std::string name;
};

/// Column references of an expression, in order of appearance: skips
/// literals, parameters, numbers, type names after "::", function names and
/// keywords.
std::vector<column_ref> column_refs(std::string_view x);

/// Splits `x` (the inside of one parenthesised group) at `sep` where `sep`
/// is outside any nested parentheses and literals.
std::vector<std::string_view> split_top(std::string_view x,
                                        std::string_view sep);

/// Removes one pair of parentheses enclosing the whole of `x`.
std::string_view strip_parens(std::string_view x);

// -- the plan and the catalog -------------------------------------------------

struct context {
  const plan& p;
  const statement_analysis& stmt;
  const catalog& cat;
  const std::string& fingerprint;
  /// Pre-order; `parent[i]` is the position of node i's parent (-1: root).
  std::vector<const plan_node*> nodes;
  std::vector<int> parent;
  std::vector<finding> out;
};

void index_nodes(const plan_node& n, int parent_pos, context& c);

bool is_scan(const plan_node& n);

const plan_node* first_child(const plan_node& n);

/// The table a scan reads. Without VERBOSE the plan omits the schema; the
/// statement analysis knows where the name resolved, else the search_path.
const table_info* table_of(const context& c, const plan_node& n);

std::string relation_of(const context& c, const plan_node& n);

/// Plan rows of nodes under a Gather are per worker; the Gather's estimate
/// over its child's is the planner's parallel divisor (2.4 for two workers
/// with a participating leader). Approximate until the plan model keeps
/// "Parallel Aware" and "Workers Planned".
double parallel_factor(const context& c, int pos);

/// Estimated rows a node returns over all workers.
double estimated_rows(const context& c, int pos);

double loops_of(const plan_node& n);

/// Rows a scan read (EXPLAIN ANALYZE): kept plus removed, over all loops.
std::optional<double> measured_rows_read(const plan_node& n);

/// Rows of the table a scan reads: the catalog's estimate, else what ANALYZE
/// measured, else (for a scan without a filter) the scan's own estimate.
std::optional<double> table_rows(const context& c, const plan_node& n);

/// Does a column reference belong to the relation scanned by `n`?
bool belongs(const column_ref& r, const plan_node& n, const table_info* t);

std::vector<std::string> columns_in(std::string_view expr, const plan_node& n,
                                    const table_info* t);

bool same_table(const column_use& u, const table_info* t, const plan_node& n);

/// Columns of a scan's filter: the statement analysis's uses of the table
/// (equality first, then ranges: the order an index would want), restricted
/// to columns the filter shows; else the filter's own column references.
std::vector<std::string> filter_columns(const context& c, const plan_node& n,
                                        const table_info* t);

/// Columns compared with "=" in a filter's top-level AND.
std::vector<std::string> equality_columns(std::string_view filter,
                                          const plan_node& n,
                                          const table_info* t);

/// Removes the alias qualifier of a sort key ("o.amount DESC" -> "amount
/// DESC") when it names the scanned relation.
std::string unqualified_key(const std::string& key, const plan_node& scan);

// -- findings bookkeeping -----------------------------------------------------

finding make_finding(const context& c, std::string kind, severity level,
                     const plan_node* n, std::string relation);

/// One finding per kind and node, or per kind and relation when it has no
/// node (then one with a node on that relation already covers it). Foreign
/// keys are also told apart by their columns.
bool duplicate(const std::vector<finding>& xs, const finding& y);

void add(std::vector<finding>& xs, finding f);

/// Stable order: severity (highest first), node id (plan order, findings
/// without a node last), then the identifying fields.
void sort_findings(std::vector<finding>& xs);

// -- filter patterns: non-sargable, wildcard, cast, OR ------------------------

struct pattern_hit {
  std::string kind;
  /// The expression as the plan shows it ("lower(last_name)").
  std::string detail;
  std::vector<std::string> columns;
  /// implicit_cast: the column's declared type, when the catalog knows it.
  std::string column_type;
};

/// Function calls over a column used as an operand of a comparison:
/// "(lower(last_name) = 'x'::text)", "(date_trunc('day'::text, ts) = …)".
void find_function_calls(std::string_view f, const plan_node& n,
                         const table_info* t, std::vector<pattern_hit>& out);

/// Text casts of character columns are free (binary coercible): an index on
/// a varchar column serves "(col)::text = …".
bool harmless_cast(const std::string& column_type, const std::string& target);

/// Column casts, printed "(col)::type": an index on col cannot serve them.
void find_casts(std::string_view f, const plan_node& n, const table_info* t,
                std::vector<pattern_hit>& out);

/// LIKE/ILIKE ("~~", "~~*") whose pattern starts with a wildcard.
void find_leading_wildcards(std::string_view f, const plan_node& n,
                            const table_info* t, std::vector<pattern_hit>& out);

/// ORs whose arms test different columns: "((a = 1) OR (b = 2))". Looks at
/// every parenthesised group, so an OR inside an AND is found too.
void find_or_across(std::string_view f, const plan_node& n, const table_info* t,
                    std::vector<pattern_hit>& out);

std::vector<pattern_hit> filter_patterns(const plan_node& n,
                                         const table_info* t);

/// Statement notes are "kind: detail" with the table after " on ":
/// "non_sargable: lower(last_name) on clinic.patients"; an OR lists columns
/// per table: "or_across_columns: a, b of public.t; c of public.u".
struct parsed_note {
  std::string kind; ///< the finding kind it maps to
  std::string detail;
  std::string relation;
  std::vector<std::string> columns; ///< or_across_columns only
};

std::optional<parsed_note> parse_note(const std::string& note);

/// Columns a note is about: "id::text", "title ~~* '%x%'",
/// "lower(last_name)" (the analysis's use of that expression names it).
std::vector<std::string> note_columns(const parsed_note& x,
                                      const statement_analysis& stmt);

std::string expression_index_key(const std::string& expr);

void describe_pattern(const context& c, finding& f, const std::string& detail,
                      const std::string& column_type);

/// Patterns matter on big reads: medium on a sequential scan of a large
/// table, low otherwise (the statement's shape alone).
severity pattern_severity(const plan_node* n, std::optional<double> rows);

void pattern_findings(context& c);

/// The first scan of a relation, preferring one with a filter.
const plan_node* scan_of(const context& c, const std::string& relation);

const table_info* find_qualified(const catalog& cat,
                                 const std::string& relation);

std::string without_spaces(std::string_view x);

/// Does an index or the plan already serve what a note complains about?
/// The analysis sees the SQL only: an expression index, a trigram index or
/// a BitmapOr in the plan answers its concern.
bool note_served(const context& c, const parsed_note& x,
                 const std::vector<std::string>& columns);

/// A cast is reported as implicit_cast; the analysis also notes it as
/// non_sargable (an expression over the column), which would say the same
/// twice.
bool also_noted_as_cast(const statement_analysis& stmt, const parsed_note& x);

/// Notes of the statement analysis: the same patterns, found in the parse
/// tree (so they exist without a plan and for predicates the plan shows
/// elsewhere than a scan's Filter, e.g. an OR across tables in a join).
void note_findings(context& c);

// -- plan rules ---------------------------------------------------------------

/// The name of the SubPlan a node runs in ("SubPlan 1"), or "".
std::string enclosing_subplan(const context& c, int pos);

void seq_scan_large_table(context& c, int pos);

/// The columns of an index, by name, from the catalog.
std::vector<std::string> index_keys(const table_info* t,
                                    const std::string& index_name);

void rows_removed_by_filter(context& c, int pos);

/// Follows the single input of pass-through nodes down to a base scan.
const plan_node* scan_below(const plan_node* n);

int position_of(const context& c, const plan_node* n);

void sort_limit_without_index(context& c, int pos);

/// The scan on the inner side of a nested loop, below Materialize (which
/// stores the scan's rows once and replays them per loop) and Memoize
/// (which caches per key: every miss runs the scan again).
const plan_node* inner_scan(const plan_node& loop,
                            const plan_node** materialize);

/// A scan that reads its whole table per loop: a Seq Scan, or an index scan
/// without an Index Cond (a full index walk).
bool full_scan(const plan_node& n);

void nested_loop_large_inner(context& c, int pos);

/// hash_mem_multiplier defaults to 2.0 since PostgreSQL 15 (1.0 before):
/// hash tables may use that multiple of work_mem.
double hash_mem_multiplier(const catalog& cat);

/// A Sort under a Limit is bounded (top-N heapsort): only the limit's rows
/// are held in memory.
std::optional<double> sort_bound(const context& c, int pos);

std::string work_mem_advice(double needed_bytes, const catalog& cat,
                            double multiplier);

void sort_spill(context& c, int pos);

void hash_spill(context& c, int pos);

// -- statistics

/// Why a table's statistics are stale, or nothing.
std::optional<std::pair<severity, std::string>>
stale_reason(const table_info& t);

finding stale_finding(const table_info& t, severity level,
                      const std::string& why);

void stale_statistics(context& c);

// -- workload rules

std::string strip_index_key(std::string key);

/// A partial index still serves FK checks if it only leaves out NULLs
/// ("WHERE fk IS NOT NULL"), which never reference anything.
bool fk_compatible_predicate(const index_info& ix, const foreign_key_info& fk);

/// Does a valid index have the foreign key's columns as its leading keys (in
/// any order)? Btree serves any prefix; hash only a single column.
bool fk_covered(const table_info& t, const foreign_key_info& fk);

/// Fingerprints of statements that join `t` on one of `cols`.
std::vector<std::string>
joining_statements(const table_info& t, const std::vector<std::string>& cols,
                   const std::vector<statement_metrics>& statements,
                   const std::vector<const statement_analysis*>& analyses);

void missing_fk_indexes(const catalog& cat,
                        const std::vector<statement_metrics>& statements,
                        const std::vector<const statement_analysis*>& analyses,
                        std::vector<finding>& out);

bool reads_rows(const statement_metrics& m, const statement_analysis* a);

struct lookup_figures {
  double calls = 0;
  double rows_per_call = 0;
  double mean_ms = 0;
  double total_ms = 0;
};

lookup_figures figures(const statement_metrics& m);

bool single_row_lookup(const lookup_figures& x, double min_calls);

severity by_total_time(double total_ms);

severity one_lower(severity x);

std::string short_query(const std::string& q);

/// The parent whose rows per call best match the child's calls per parent
/// call (ties: more calls, then fingerprint, for determinism).
std::optional<size_t>
best_parent(size_t child, const std::vector<statement_metrics>& statements,
            const std::vector<const statement_analysis*>& analyses);

void describe_child(finding& f, const statement_metrics& m,
                    const statement_analysis* a);

void n_plus_one(const std::vector<statement_metrics>& statements,
                const std::vector<const statement_analysis*>& analyses,
                std::vector<finding>& out);

} // namespace optischema::findings_detail
