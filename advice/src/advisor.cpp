#include "optischema/advice/advisor.hpp"
#include "optischema/advice/parameter_samples.hpp"

#include "optischema/analysis/candidates.hpp"
#include "optischema/analysis/deltas.hpp"
#include "optischema/analysis/drops.hpp"
#include "optischema/analysis/fingerprint.hpp"
#include "optischema/analysis/index_model.hpp"
#include "optischema/analysis/json.hpp"
#include "optischema/analysis/plan.hpp"
#include "optischema/analysis/selection.hpp"
#include "optischema/analysis/statement.hpp"
#include "optischema/pg/catalog_reader.hpp"
#include "optischema/pg/qualstats_reader.hpp"
#include "optischema/pg/safety.hpp"
#include "optischema/pg/stats_reader.hpp"
#include "optischema/util/clock.hpp"
#include "optischema/util/logging.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <map>
#include <set>
#include <unordered_map>

namespace optischema {

namespace {

constexpr double day_ms = 86'400'000.0;
/// Milliseconds one index entry adds to a row write (btree insert, WAL): a
/// rough figure; the point is the order of magnitude against read savings.
constexpr double index_entry_write_ms = 0.01;
/// A statement whose scan keeps at least this share of a table's rows
/// reads about as much through any index: no index for it.
constexpr double keeps_most_rows = 0.9;
/// A modelled index (index_model.hpp) must make a statement at least this
/// much cheaper: more than the 20% a hypopg estimate needs, for a model's
/// error. Not much more: the planner charges jsonb, array and pattern
/// operators like any other (cpu_operator_cost), so the scans they replace
/// cost more in time than both estimates say; the model errs towards less.
constexpr double min_model_gain = 0.3;
/// GIN and GiST entries cost more to maintain than a b-tree's (several keys
/// per row, the pending list's merges).
constexpr double gin_write_factor = 2.0;

/// One statement of the workload, before analysis.
struct workload_item {
  std::string fingerprint;
  std::string query;
  int64_t calls = 0;
  double total_time_ms = 0;
  double time_ms_per_day = 0;
  /// pg_stat_statements rows / calls; negative when unknown.
  double rows_per_call = -1;
  /// Its pg_stat_statements entries (pg_qualstats keys on them).
  std::vector<int64_t> queryids;
};

/// A candidate merged across statements.
struct merged_candidate {
  index_candidate c;
  std::vector<size_t> statements;
  int64_t size_bytes = 0;
  double write_ms_per_day = 0;
  /// hypopg cannot build it (GIN, GiST): costed by the model (index_model).
  bool costable = true;
  /// It holds a column the workload's UPDATEs set: they stop being HOT.
  bool breaks_hot = false;
};

bool matches_table(const std::string& pattern, const std::string& schema,
                   const std::string& table) {
  return pattern == table || pattern == schema + "." + table;
}

/// Estimated bytes of an index: entries of about 16 bytes of overhead plus
/// the key and INCLUDE widths, pages 90% full.
int64_t estimate_size(const index_candidate& c, const table_info& t) {
  double width = 16;
  auto add_width = [&](const std::string& element) {
    // The column name is the first identifier of a key element.
    std::string name;
    for (char ch : element) {
      if (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_')
        name += ch;
      else if (!name.empty())
        break;
    }
    auto* col = t.column(name);
    if (col == nullptr) {
      for (auto& cc : t.columns) // expressions: the column inside
        if (element.find(cc.name) != std::string::npos) {
          col = &cc;
          break;
        }
    }
    width += col != nullptr && col->avg_width > 0 ? col->avg_width : 8;
  };
  for (auto& k : c.keys)
    add_width(k);
  for (auto& k : c.include)
    add_width(k);
  width = std::ceil(width / 8) * 8;
  auto rows = t.rows();
  if (!c.predicate.empty())
    rows *= 0.3; // without a selectivity estimate, a partial index is smaller
  if (c.method == "brin")
    return 8192 * std::max<int64_t>(2, t.relpages / 128 / 100);
  if (c.method == "hash") // 20 bytes a row whatever the key; pages 75% full
    return static_cast<int64_t>(rows * 20 / 0.75) + 2 * 8192;
  return static_cast<int64_t>(rows * width / 0.9) + 8192;
}

/// Whether `name` appears in `key` as a whole identifier ("id" is not in
/// "tenant_id").
bool mentions(const std::string& key, const std::string& name) {
  auto word = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  };
  for (auto at = key.find(name); at != std::string::npos;
       at = key.find(name, at + 1)) {
    auto end = at + name.size();
    if ((at == 0 || !word(key[at - 1])) && (end == key.size() || !word(key[end])))
      return true;
  }
  return false;
}

/// Time per day an index on its table would add to writes. Index
/// maintenance is measured against the writes' own time in
/// pg_stat_statements (the same window as the reads it saves), not against
/// row counters, which also hold one-off bulk loads: a new index costs
/// about its share of the table's write path — one of (existing indexes +
/// the heap + itself). When a column the workload's UPDATEs set is in its
/// keys, INCLUDE or predicate, the updates that are HOT today stop being
/// HOT: each then maintains every index of the table (the HOT share of the
/// row writes from pg_stat_user_tables' n_tup_hot_upd).
double write_cost(const merged_candidate& m, const table_info& t,
                  double write_ms_per_day,
                  const std::vector<std::string>& updated_columns,
                  bool* breaks_hot_out = nullptr) {
  bool breaks_hot = false;
  for (auto& col : updated_columns) {
    for (auto& k : m.c.keys)
      breaks_hot = breaks_hot || mentions(k, col);
    for (auto& k : m.c.include)
      breaks_hot = breaks_hot || mentions(k, col);
    breaks_hot = breaks_hot || mentions(m.c.predicate, col);
  }
  if (breaks_hot_out != nullptr)
    *breaks_hot_out = breaks_hot;
  auto indexes = static_cast<double>(t.indexes.size());
  auto share = 1.0 / (indexes + 2);
  auto own = write_ms_per_day * share
    * (m.c.method == "gin" || m.c.method == "gist" ? gin_write_factor : 1.0);
  if (!breaks_hot)
    return own;
  // The updates that are HOT today (pg_stat_user_tables), as a share of all
  // row writes: without statistics, assume they all were.
  auto writes
    = static_cast<double>(t.n_tup_ins + t.n_tup_upd + t.n_tup_del);
  auto hot = writes > 0 ? static_cast<double>(t.n_tup_hot_upd) / writes : 1.0;
  return own + write_ms_per_day * hot * (indexes + 1) * share;
}

/// The column of an index key "name gist_trgm_ops" as plans show it
/// (quoted there too when it needs quotes; a name with a space is cut at
/// it, which still finds it in a sort key).
std::string column_of_key(const std::string& key) {
  return key.substr(0, key.find(' '));
}

std::string strip_keyword(const std::string& key) {
  auto out = key;
  for (auto* suffix : {" DESC", " ASC"})
    if (out.size() > std::string{suffix}.size()
        && out.compare(out.size() - std::string{suffix}.size(),
                       std::string::npos, suffix)
          == 0)
      out.erase(out.size() - std::string{suffix}.size());
  return out;
}

/// Keeps the hypothetical indexes of the session equal to a wanted set, so
/// the selection can ask for any configuration without rebuilding all.
class whatif_session {
public:
  whatif_session(pg::session& s, std::vector<merged_candidate>& cands,
                 const pg::explain_options& opts)
    : s_(s), cands_(cands), opts_(opts) {
    // nop
  }

  ~whatif_session() {
    (void)pg::hypo_reset(s_);
  }

  /// Makes exactly `config` exist; false if one of them cannot be built.
  bool apply(const std::vector<size_t>& config) {
    std::set<size_t> want{config.begin(), config.end()};
    for (auto it = live_.begin(); it != live_.end();) {
      if (want.count(it->first) == 0) {
        (void)pg::hypo_drop(s_, it->second.oid);
        it = live_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto c : want) {
      if (live_.count(c) != 0)
        continue;
      auto h = pg::hypo_create(s_, cands_[c].c.ddl());
      if (!h) {
        cands_[c].costable = false;
        OPTISCHEMA_DEBUG("advisor: hypopg cannot build {}: {}",
                         cands_[c].c.ddl(), h.error().message);
        return false;
      }
      live_[c] = *h;
    }
    return true;
  }

  std::optional<pg::hypothetical_index> live(size_t c) const {
    auto i = live_.find(c);
    if (i == live_.end())
      return std::nullopt;
    return i->second;
  }

  /// The plan of `sql` with `config` (its $n bound to `values` when
  /// given); nullopt if it cannot be made.
  std::optional<plan>
  plan_with(const std::string& sql, const std::vector<size_t>& config,
            const std::vector<std::string>* values = nullptr) {
    if (!apply(config))
      return std::nullopt;
    auto json = values != nullptr
      ? pg::explain_json_bound(s_, sql, *values, opts_)
      : pg::explain_json(s_, sql, opts_);
    if (!json)
      return std::nullopt;
    auto p = parse_plan(*json);
    if (!p)
      return std::nullopt;
    last_json_ = *json;
    return *p;
  }

  const std::string& last_json() const {
    return last_json_;
  }

private:
  pg::session& s_;
  std::vector<merged_candidate>& cands_;
  const pg::explain_options& opts_;
  std::map<size_t, pg::hypothetical_index> live_;
  std::string last_json_;
};

/// The CONCURRENTLY form of an index definition from pg_get_indexdef.
std::string concurrently(const std::string& definition) {
  for (auto* head : {"CREATE UNIQUE INDEX ", "CREATE INDEX "}) {
    std::string h = head;
    if (definition.rfind(h, 0) == 0)
      return h + "CONCURRENTLY " + definition.substr(h.size());
  }
  return definition;
}

recommendation create_recommendation(const merged_candidate& m,
                                     const table_info& t, const catalog& cat,
                                     const advise_options& opts) {
  recommendation r;
  r.kind = "create_index";
  r.target = opts.target;
  r.schema = m.c.schema;
  r.table = m.c.table;
  for (auto& k : m.c.keys)
    r.columns.push_back(k);
  r.include = m.c.include;
  r.where = m.c.predicate;
  r.using_method = m.c.method;
  auto suffix = !m.c.predicate.empty() ? "partial_idx"
    : !m.c.include.empty()             ? "covering_idx"
                                       : "idx";
  r.index_name = index_name_for(m.c.table, m.c.keys, suffix);
  // Never the name of an index the schema already has — unless it is this
  // very index still being built (INVALID until CREATE INDEX CONCURRENTLY
  // ends): the advice keeps its name, so its rollback drops what was built.
  auto taken = [&](const std::string& name) {
    for (auto& other : cat.tables)
      if (other.schema == m.c.schema)
        for (auto& ix : other.indexes)
          if (ix.name == name)
            return !(other.name == m.c.table && !ix.valid
                     && ix.keys == m.c.keys);
    return false;
  };
  for (int n = 2; taken(r.index_name); ++n)
    r.index_name = index_name_for(m.c.table, m.c.keys,
                                  fmt::format("{}{}", suffix, n));
  // CREATE INDEX ON s.t … → CREATE INDEX CONCURRENTLY name ON s.t …; a
  // partitioned parent cannot build concurrently (PostgreSQL's rule).
  auto body = m.c.ddl().substr(std::string{"CREATE INDEX "}.size());
  auto partitioned = t.kind == 'p';
  r.ddl = fmt::format("CREATE INDEX {}{} {}",
                      partitioned ? "" : "CONCURRENTLY ",
                      quote_ident(r.index_name), body);
  r.rollback_ddl = fmt::format("DROP INDEX {}IF EXISTS {}",
                               partitioned ? "" : "CONCURRENTLY ",
                               quote_qualified(r.schema, r.index_name));
  r.title = fmt::format("Create index {} on {}.{} ({})", r.index_name, r.schema,
                        r.table, fmt::join(r.columns, ", "));
  r.id = recommendation_id(opts.target, r.kind, m.c.key());
  r.reasons = m.c.reasons;
  if (partitioned)
    r.reasons.push_back(
      "partitioned table: built without CONCURRENTLY, which "
      "locks writes; build it per partition off-peak instead");
  // The extension is a step of its own: apply runs it only when asked to.
  if (m.c.needs_pg_trgm && !cat.pg_trgm_installed)
    r.prerequisites.push_back("CREATE EXTENSION IF NOT EXISTS pg_trgm");
  return r;
}

double stats_age_days(int64_t reset_ms, int64_t now) {
  if (reset_ms <= 0 || reset_ms >= now)
    return 1.0;
  return std::max(1.0 / 1440, static_cast<double>(now - reset_ms) / day_ms);
}

/// One run of advise(): what its stages hand on to each other, in the order
/// they fill it in. advise() calls the stages in turn; each one's doc says
/// what it does.
struct advice_run {
  advice_run(pg::session& s, const advise_options& opts) : s(s), opts(opts) {
    // nop
  }

  expected<ok> connect();
  expected<ok> read_workload();
  void keep_tunable_statements();
  void find_writes();
  void plan_statements();
  std::vector<std::string> collect_candidates(statement_analysis& an,
                                              const workload_item& w);
  void cost_writes();
  void what_if();
  std::optional<double> cost_with(size_t q, const std::vector<size_t>& config);
  void recommend_chosen();
  void plan_with_chosen();
  void model_indexes();
  void retire_superseded();
  void propose_uncosted();
  void explain_no_advice();
  void drop_redundant();
  void advise_drops();
  void add_workload_findings();

  pg::session& s;
  const advise_options& opts;
  int64_t now = now_ms();
  advice_report report;
  /// `opts` with the target named.
  advise_options o;
  std::optional<catalog> cat;
  std::vector<observed_constant> observed;

  // -- the workload
  std::vector<workload_item> items;
  double pgss_days = 1;
  fingerprint_cache fps;
  std::vector<statement_result> not_dml;
  std::vector<std::pair<std::string, double>> write_items;

  // -- per statement
  std::vector<statement_result> results;
  std::vector<statement_analysis> analyses;
  std::vector<merged_candidate> cands;
  std::map<std::string, size_t> cand_index;
  std::vector<std::vector<std::string>> statement_skips;
  /// What pg_qualstats saw each analysed statement compare columns with.
  std::map<size_t, observed_values> seen_of;
  /// Why a candidate's expressions must not be built ("" when they may).
  std::map<std::string, std::string> expression_verdicts;

  // -- selection
  std::vector<selection_statement> sel_stmts;
  selection_options sopts;
  selection_result sel;
  std::optional<whatif_session> whatif;
  /// Each statement's value samples (what_if says why).
  std::vector<std::vector<skew_sample>> skews;

  // -- recommendations
  std::map<std::string, size_t> candidate_of;
  std::set<size_t> model_served;
  /// Existing indexes a recommended one makes redundant (schema.name).
  std::set<std::string> superseded;
};

/// Connects, names the target, reads the catalog and what pg_qualstats
/// saw.
expected<ok> advice_run::connect() {
  auto facts = s.connect();
  if (!facts)
    return facts.error();
  report.target = opts.target.empty() ? facts->database : opts.target;
  o = opts;
  o.target = report.target;
  auto c = pg::read_catalog(s);
  if (!c)
    return c.error();
  cat = std::move(*c);
  if (!cat->hypopg_installed)
    report.warnings.push_back(
      "hypopg is not installed in this database, so indexes cannot be costed "
      "with what-if plans: install the package (postgresql-15-hypopg on "
      "Debian) and run CREATE EXTENSION hypopg; advice below is heuristic and "
      "marked with lower confidence");
  // The constants the workload's statements really use, where pg_qualstats
  // samples them (optional: without it values are guessed from pg_stats).
  if (o.use_pg_stat_statements) {
    if (auto x = pg::read_observed_constants(s))
      observed = std::move(*x);
    else
      report.warnings.push_back(
        "pg_qualstats is installed but could not be read (" + x.error().message
        + "): values are guessed from pg_stats instead of the workload's own");
  }
  return ok{};
}

// -- the workload -------------------------------------------------------------

/// The statements to advise on: pg_stat_statements' (normalised) and the
/// given ones.
expected<ok> advice_run::read_workload() {
  if (o.use_pg_stat_statements) {
    auto sample = pg::read_sample(s);
    if (!sample)
      return sample.error();
    if (sample->info.available)
      pgss_days = stats_age_days(sample->info.stats_reset_ms, now);
    // By queryid, as the COLLECTOR does: scrubbing replaces the texts, and
    // a cache by text would parse and keep each statement twice.
    std::unordered_map<int64_t, fingerprint_result> by_queryid;
    for (auto& r : sample->rows)
      if (by_queryid.count(r.key.queryid) == 0)
        by_queryid.emplace(r.key.queryid, fingerprint_statement(r.query));
    auto lookup = [&](const pgss_row& r) -> const fingerprint_result& {
      return by_queryid.at(r.key.queryid);
    };
    // Normalised texts only, none holding a password (as the COLLECTOR
    // keeps them): recommendations store the statements they serve.
    scrub_texts(*sample, lookup);
    auto deltas = compute_deltas(nullptr, *sample);
    auto snap = build_snapshot(report.target, *sample, deltas,
                               compute_database_metrics(nullptr, *sample),
                               lookup);
    for (auto& st : snap.statements) {
      workload_item w;
      w.fingerprint = st.fingerprint;
      w.query = st.query;
      w.calls = st.total.calls;
      w.total_time_ms = st.total.exec_time_ms;
      w.time_ms_per_day = st.total.exec_time_ms / pgss_days;
      if (st.total.calls > 0)
        w.rows_per_call = static_cast<double>(st.total.rows)
          / static_cast<double>(st.total.calls);
      w.queryids = st.queryids;
      items.push_back(std::move(w));
    }
  }
  for (auto& sql : o.statements) {
    auto fp = fps.get(sql);
    auto known = std::find_if(items.begin(), items.end(),
                              [&](const workload_item& w) {
                                return w.fingerprint == fp.fingerprint;
                              });
    if (known != items.end()) {
      known->query = sql; // concrete constants plan better than $n
      continue;
    }
    workload_item w;
    w.fingerprint = fp.fingerprint;
    w.query = sql;
    w.calls = 1;
    // Given statements without history weigh as much as the average one.
    double sum = 0;
    for (auto& x : items)
      sum += x.time_ms_per_day;
    w.time_ms_per_day = items.empty() ? 1000.0
                                      : sum / static_cast<double>(items.size());
    items.push_back(std::move(w));
  }
  return ok{};
}

void advice_run::keep_tunable_statements() {
  // The workload gains are judged against: statements indexes can matter
  // to. CREATE INDEX, VACUUM and other utility statements can dwarf a short
  // observation window and are no query load to tune; they are reported as
  // skipped with the reason.
  std::set<std::string> given;
  for (auto& sql : o.statements)
    given.insert(fps.get(sql).fingerprint);
  std::erase_if(items, [&](const workload_item& w) {
    auto type = single_statement_type(w.query);
    if (type
        && (*type == "SelectStmt" || *type == "InsertStmt"
            || *type == "UpdateStmt" || *type == "DeleteStmt"))
      return false;
    if (!o.only_given_statements || given.count(w.fingerprint) != 0) {
      statement_result sr;
      sr.fingerprint = w.fingerprint;
      sr.query = w.query;
      sr.calls = w.calls;
      sr.total_time_ms = w.total_time_ms;
      sr.time_ms_per_day = w.time_ms_per_day;
      sr.skipped = !type
        ? type.error().message
        : "utility statement: EXPLAIN and indexes do not apply";
      not_dml.push_back(std::move(sr));
    }
    return true;
  });
  if (o.only_given_statements)
    std::erase_if(items, [&](const workload_item& w) {
      return given.count(w.fingerprint) == 0;
    });
  for (auto& w : items)
    report.workload_ms_per_day += w.time_ms_per_day;
  std::sort(items.begin(), items.end(),
            [](const workload_item& x, const workload_item& y) {
              return x.time_ms_per_day > y.time_ms_per_day;
            });
}

void advice_run::find_writes() {
  // Which table each writing statement writes, for the write cost of
  // candidate indexes (given statements have no measured time: skipped).
  for (auto& w : items) {
    if (w.total_time_ms <= 0)
      continue;
    // One execution seen in less than a day is no rate: a bulk load or a
    // migration, extrapolated to a day, would outweigh any index.
    if (w.calls < 2 && pgss_days < 1)
      continue;
    auto type = single_statement_type(w.query);
    if (!type || *type == "SelectStmt")
      continue;
    if (auto an = analyze_statement(w.query, *cat); an && !an->written.empty())
      write_items.emplace_back(an->written, w.time_ms_per_day);
  }
}

// -- per statement: analysis, plan, findings, candidates ----------------------

void advice_run::plan_statements() {
  size_t analysed = 0;
  for (auto& w : items) {
    statement_result sr;
    sr.fingerprint = w.fingerprint;
    sr.query = w.query;
    sr.calls = w.calls;
    sr.total_time_ms = w.total_time_ms;
    sr.mean_time_ms
      = w.calls > 0 ? w.total_time_ms / static_cast<double>(w.calls) : 0;
    sr.time_ms_per_day = w.time_ms_per_day;
    sr.rows_per_call = w.rows_per_call;
    auto skip = [&](std::string why) {
      sr.skipped = std::move(why);
      results.push_back(sr);
      analyses.emplace_back();
      statement_skips.emplace_back();
    };
    if (w.calls < o.min_calls) {
      skip(fmt::format("{} calls, below --min-calls {}", w.calls, o.min_calls));
      continue;
    }
    if (w.total_time_ms < o.min_time_ms && w.calls > 0
        && o.use_pg_stat_statements) {
      skip(fmt::format("{:.1f} ms in total, below --min-time-ms {}",
                       w.total_time_ms, o.min_time_ms));
      continue;
    }
    if (analysed >= o.max_statements) {
      skip(fmt::format("outside the {} most expensive statements",
                       o.max_statements));
      continue;
    }
    auto an = analyze_statement(w.query, *cat);
    if (!an) {
      skip(an.error().message);
      continue;
    }
    using sk = statement_analysis::kind;
    if (an->what == sk::utility || an->what == sk::other) {
      skip("utility statement: EXPLAIN and indexes do not apply");
      continue;
    }
    if (!an->unresolved.empty()) {
      skip(fmt::format("refers to {} which the database does not have (or the "
                       "role cannot see)",
                       fmt::join(an->unresolved, ", ")));
      continue;
    }
    if (an->tables.empty()) {
      skip("reads no user table");
      continue;
    }
    auto excluded = std::any_of(
      an->tables.begin(), an->tables.end(), [&](const table_ref& t) {
        return std::any_of(o.exclude_tables.begin(), o.exclude_tables.end(),
                           [&](const std::string& p) {
                             return matches_table(p, t.schema, t.table);
                           });
      });
    auto included = o.include_tables.empty()
      || std::any_of(an->tables.begin(), an->tables.end(),
                     [&](const table_ref& t) {
                       return std::any_of(
                         o.include_tables.begin(), o.include_tables.end(),
                         [&](const std::string& p) {
                           return matches_table(p, t.schema, t.table);
                         });
                     });
    if (excluded || !included) {
      skip("its tables are excluded by --include/--exclude");
      continue;
    }
    // pg_stat_statements writes `timestamptz $1` for typed literals, which
    // PostgreSQL itself cannot parse; plan the equivalent cast.
    w.query = reparsable_sql(w.query);
    sr.query = w.query;
    // Texts come from requests and from any database user: planning runs
    // what they call, so what they call must be harmless (pg/safety.hpp).
    if (auto safe = pg::check_statement(s, w.query); !safe) {
      skip(safe.error().message);
      continue;
    }
    auto json = pg::explain_json(s, w.query, o.explain);
    if (!json) {
      skip("cannot EXPLAIN it: " + json.error().message);
      continue;
    }
    auto p = parse_plan(*json);
    if (!p) {
      skip("cannot read its plan: " + p.error().message);
      continue;
    }
    ++analysed;
    sr.plan_before = *json;
    sr.cost_before = sr.cost_after = p->total_cost();
    sr.schema_text = describe_tables(*an, *cat);
    sr.schema_signature = describe_tables(*an, *cat, false);
    for (auto& f : plan_findings(*p, *an, *cat, w.fingerprint)) {
      sr.findings_text += fmt::format("[{}] {}: {}\n", to_string(f.level),
                                      f.title, f.evidence);
      report.findings.push_back(f);
    }
    if (p->total_cost() < o.min_cost) {
      auto used = p->indexes_used();
      sr.skipped = fmt::format(
        "its plan costs {:.1f}, under {:.0f}: already cheap{}", p->total_cost(),
        o.min_cost,
        used.empty() ? std::string{}
                     : fmt::format(" with {}", fmt::join(used, ", ")));
      results.push_back(sr);
      analyses.push_back(std::move(*an));
      statement_skips.emplace_back();
      continue;
    }
    auto skipped_lines = collect_candidates(*an, w);
    results.push_back(sr);
    analyses.push_back(std::move(*an));
    statement_skips.push_back(std::move(skipped_lines));
  }
}

/// The candidates of one planned statement, merged into `cands`; the lines
/// saying what the generator ruled out.
std::vector<std::string>
advice_run::collect_candidates(statement_analysis& an, const workload_item& w) {
  // A parameter the workload binds to the same value on (nearly) every
  // call is, for an index, that value: a partial index's predicate.
  auto seen = values_of(observed, w.queryids);
  for (auto& u : an.uses) {
    if (u.kind != use_kind::equality || u.op != "=" || !u.literal.empty()
        || !u.expression.empty() || u.column.empty())
      continue;
    auto d = seen.dominant(u.schema, u.table, u.column, 1);
    if (d.empty())
      continue;
    auto* t = cat->find(u.schema, u.table);
    auto* c = t != nullptr ? t->column(u.column) : nullptr;
    bool boolean = c != nullptr && c->type == "boolean"
      && (d[0].value == "true" || d[0].value == "false");
    u.literal = boolean ? d[0].value : quote_literal(d[0].value);
  }
  std::vector<std::string> skipped_lines;
  auto found = generate_candidates(an, *cat, &skipped_lines);
  // CREATE INDEX runs key expressions and predicates on every row as the
  // table's owner: only PostgreSQL's own functions may be in them.
  std::erase_if(found, [&](const index_candidate& c) {
    auto [at, fresh] = expression_verdicts.try_emplace(c.key());
    if (fresh)
      if (auto safe = pg::check_index_expressions(s, c.ddl()); !safe)
        at->second = safe.error().message;
    if (at->second.empty())
      return false;
    skipped_lines.push_back(
      fmt::format("no index ({}): {}", fmt::join(c.keys, ", "), at->second));
    return true;
  });
  auto q = results.size();
  seen_of[q] = std::move(seen);
  for (auto& c : found) {
    auto key = c.key();
    auto [it, added] = cand_index.emplace(key, cands.size());
    if (added) {
      merged_candidate m;
      m.c = c;
      cands.push_back(std::move(m));
    } else {
      auto& reasons = cands[it->second].c.reasons;
      for (auto& r : c.reasons)
        if (std::find(reasons.begin(), reasons.end(), r) == reasons.end())
          reasons.push_back(r);
    }
    cands[it->second].statements.push_back(q);
  }
  return skipped_lines;
}

// -- sizes and write costs ----------------------------------------------------

// The time INSERT, UPDATE and DELETE spend on each table
// (pg_stat_statements), which new indexes would add to.
void advice_run::cost_writes() {
  std::map<std::string, double> write_time;
  for (auto& w : write_items)
    write_time[w.first] += w.second;
  for (auto& m : cands) {
    auto* t = cat->find(m.c.schema, m.c.table);
    if (t == nullptr)
      continue;
    std::vector<std::string> updated;
    for (auto& a : analyses)
      for (auto& col : a.updated_columns)
        if (col.rfind(m.c.schema + "." + m.c.table + ".", 0) == 0)
          updated.push_back(
            col.substr(m.c.schema.size() + m.c.table.size() + 2));
    m.size_bytes = estimate_size(m.c, *t);
    m.write_ms_per_day = write_cost(m, *t, write_time[t->qualified()],
                                    updated, &m.breaks_hot);
    m.costable = m.c.method == "btree" || m.c.method == "brin"
      || m.c.method == "hash";
  }
}

// -- selection ----------------------------------------------------------------

void advice_run::what_if() {
  sel_stmts.resize(results.size());
  for (size_t q = 0; q < results.size(); ++q) {
    sel_stmts[q].weight_ms_per_day = results[q].time_ms_per_day;
    sel_stmts[q].base_cost = results[q].cost_before;
  }
  for (size_t c = 0; c < cands.size(); ++c)
    if (cands[c].costable)
      for (auto q : cands[c].statements)
        sel_stmts[q].candidates.push_back(c);
  std::vector<selection_candidate> sel_cands(cands.size());
  for (size_t c = 0; c < cands.size(); ++c)
    sel_cands[c] = {cands[c].size_bytes, cands[c].write_ms_per_day,
                    fmt::format("{}", fmt::join(cands[c].c.keys, ", "))};
  sopts.workload_ms_per_day = report.workload_ms_per_day;
  if (o.budget_mb)
    sopts.budget_bytes = static_cast<int64_t>(*o.budget_mb * 1024 * 1024);
  // Where a statement compares a skewed column with `=`, the generic plan's
  // average value hides what its frequent and rare values cost. Nobody
  // knows which values the application asks for: half the weight goes to
  // the generic plan (each distinct value alike), half to the values as
  // often as the rows hold them (the most common one, and a rare one for
  // the rest) — the expected cost under either guess counts.
  skews.resize(results.size());
  if (cat->hypopg_installed) {
    whatif.emplace(s, cands, o.explain);
    for (size_t q = 0; q < results.size(); ++q) {
      if (sel_stmts[q].candidates.empty())
        continue;
      auto at = seen_of.find(q);
      auto xs = skew_samples(*cat, results[q].query, results[q].rows_per_call,
                             at != seen_of.end() ? &at->second : nullptr);
      if (!xs) {
        OPTISCHEMA_DEBUG("advisor: no value samples for {}: {}",
                         results[q].fingerprint, xs.error().message);
        continue;
      }
      // Only when every binding plans (cost_with fails if one does not):
      // the weights must add up.
      skews[q] = std::move(*xs);
      if (auto base = cost_with(q, {}))
        sel_stmts[q].base_cost = *base;
      else
        skews[q].clear();
    }
    sel = select_indexes(
      sel_stmts, sel_cands,
      [this](size_t q, const std::vector<size_t>& config) {
        return cost_with(q, config);
      },
      sopts);
    report.whatif_calls = sel.oracle_calls;
  }
}

/// The planner's cost of statement q with the hypothetical indexes
/// `config`, weighed over its value samples where it has them.
std::optional<double> advice_run::cost_with(size_t q,
                                            const std::vector<size_t>& config) {
  auto p = whatif->plan_with(results[q].query, config);
  if (!p)
    return std::nullopt;
  if (skews[q].empty())
    return p->total_cost();
  auto by_rows = 0.0;
  for (auto& x : skews[q]) {
    auto px = whatif->plan_with(x.sql, config, &x.values);
    if (!px)
      return std::nullopt;
    by_rows += x.weight * px->total_cost();
  }
  // Values pg_qualstats saw are the workload itself: no guess beside them.
  if (skews[q].front().observed)
    return by_rows;
  return 0.5 * p->total_cost() + 0.5 * by_rows;
}

// -- recommendations for the chosen indexes -----------------------------------

void advice_run::recommend_chosen() {
  for (size_t i = 0; i < sel.chosen.size(); ++i) {
    auto c = sel.chosen[i];
    auto& m = cands[c];
    auto* t = cat->find(m.c.schema, m.c.table);
    if (t == nullptr)
      continue;
    auto r = create_recommendation(m, *t, *cat, o);
    candidate_of[r.id] = c;
    r.benefit_ms_per_day = sel.benefit_ms_per_day[i];
    r.size_bytes = m.size_bytes;
    r.write_overhead_ms_per_day = m.write_ms_per_day;
    double best_gain = 0;
    for (auto q : sel.serves[i]) {
      auto& sr = results[q];
      served_statement ss;
      ss.fingerprint = sr.fingerprint;
      ss.query = sr.query;
      // Both on the same footing: weighed over the values where skewed.
      ss.cost_before = sel_stmts[q].base_cost;
      ss.cost_after = sel.cost_after[q];
      ss.time_ms_per_day = sr.time_ms_per_day;
      r.statements.push_back(ss);
      r.cost_before += ss.cost_before;
      r.cost_after += ss.cost_after;
      if (ss.cost_before > 0)
        best_gain = std::max(best_gain, 1.0 - ss.cost_after / ss.cost_before);
      sr.served_by.push_back(r.id);
      if (!skews[q].empty()) {
        std::vector<std::string> labels;
        for (auto& x : skews[q])
          labels.push_back(x.label);
        if (skews[q].front().observed)
          r.reasons.push_back(fmt::format(
            "costed on the values the workload uses, as often as it uses "
            "them: {}",
            fmt::join(labels, " and ")));
        else
          r.reasons.push_back(fmt::format(
            "costed across values: half on the generic plan (any value "
            "alike), half on values as often as rows hold them: {}",
            fmt::join(labels, " and ")));
      }
    }
    // Confidence: what-if costed with the planner (generic plans), the size
    // of the gain, and how much writing the table takes.
    r.benefit_source = "hypopg";
    double confidence = 0.7;
    if (best_gain >= 0.5)
      confidence += 0.15;
    if (m.write_ms_per_day > 0.25 * r.benefit_ms_per_day)
      confidence -= 0.2;
    r.confidence = std::clamp(confidence, 0.05, 0.95);
    r.reasons.push_back(fmt::format(
      "hypopg what-if: the planner's cost of the {} statement(s) it serves "
      "goes "
      "from {:.0f} to {:.0f} ({:.0f}% less)",
      r.statements.size(), r.cost_before, r.cost_after,
      r.cost_before > 0 ? 100 * (1 - r.cost_after / r.cost_before) : 0.0));
    r.reasons.push_back(fmt::format(
      "estimated to save {:.0f} ms/day of query time ({:.1f}% of the workload)",
      r.benefit_ms_per_day,
      report.workload_ms_per_day > 0
        ? 100 * r.benefit_ms_per_day / report.workload_ms_per_day
        : 0.0));
    if (m.write_ms_per_day > 0)
      r.reasons.push_back(fmt::format(
        "costs about {:.0f} ms/day of index maintenance on writes to {}.{}{}",
        m.write_ms_per_day, m.c.schema, m.c.table,
        m.breaks_hot ? ", most of it because UPDATEs set a column it holds: "
                       "they stop being HOT and maintain every index"
                     : ""));
    r.evidence.push_back(
      fmt::format("estimated size {:.1f} MB",
                  static_cast<double>(r.size_bytes) / 1048576.0));
    r.created_ms = r.updated_ms = now;
    (r.confidence >= o.min_confidence ? report.actions : report.other)
      .push_back(std::move(r));
  }
}

void advice_run::plan_with_chosen() {
  // Plans with the recommended indexes, for the report and the dashboard.
  if (whatif && !sel.chosen.empty()) {
    for (size_t q = 0; q < results.size(); ++q) {
      if (results[q].served_by.empty())
        continue;
      std::vector<size_t> config;
      for (auto c : sel.chosen)
        if (std::find(sel_stmts[q].candidates.begin(),
                      sel_stmts[q].candidates.end(), c)
            != sel_stmts[q].candidates.end())
          config.push_back(c);
      if (auto p = whatif->plan_with(results[q].query, config)) {
        results[q].plan_after = whatif->last_json();
        results[q].cost_after = p->total_cost();
      }
    }
  }
}

void advice_run::model_indexes() {
  // Indexes hypopg cannot simulate (GIN, GiST): costed by the model of
  // index_model.hpp from the planner's own row estimate and cost settings. A
  // clear gain becomes an action marked as the model's estimate (the
  // sandbox's measurement outweighs it); the rest stay uncosted ideas.
  for (size_t c = 0; c < cands.size(); ++c) {
    auto& m = cands[c];
    auto* t = cat->find(m.c.schema, m.c.table);
    if (m.costable || t == nullptr)
      continue;
    double benefit = 0;
    double best_gain = 0;
    bool lossy_order = false;
    std::vector<std::pair<size_t, index_model_estimate>> served;
    for (auto q : m.statements) {
      if (model_served.count(q) != 0)
        continue;
      auto p = parse_plan(results[q].plan_before);
      if (!p)
        continue;
      // A GiST key on a plain column may be a nearest-first scan
      // (ORDER BY col <-> x LIMIT n); else the filter's bitmap scan.
      std::optional<index_model_estimate> e;
      if (m.c.method == "gist" && !m.c.keys.empty())
        e = model_knn_scan(*p, m.c, column_of_key(m.c.keys.front()), *t,
                           cat->costs, results[q].rows_per_call);
      // Trigram signatures are lossy: how much of the tree a nearest-first
      // search visits depends on how alike the strings are, which no
      // statistic tells (10× to 100× off on similar names).
      lossy_order = lossy_order
        || (e && m.c.keys.front().ends_with("gist_trgm_ops"));
      if (!e)
        e = model_bitmap_scan(*p, m.c, *t, cat->costs,
                              results[q].rows_per_call);
      if (!e)
        continue;
      // Against what the chosen b-tree indexes already leave of it: a GIN
      // index must beat them clearly, not merely beat the scan.
      auto before = results[q].served_by.empty() ? results[q].cost_before
                                                 : results[q].cost_after;
      auto gain = before > 0 ? 1.0 - e->cost_after / before : 0.0;
      if (!results[q].served_by.empty() && gain < min_model_gain)
        continue;
      if (e->share >= keeps_most_rows || gain < min_model_gain) {
        statement_skips[q].push_back(fmt::format(
          "no {} index ({}): {}{}", m.c.method, fmt::join(m.c.keys, ", "),
          e->explanation,
          e->share >= keeps_most_rows
            ? "; the predicate keeps most rows, so the scan stays cheaper"
            : fmt::format("; {:.0f}% cheaper is below the {:.0f}% a model's "
                          "estimate needs",
                          100 * gain, 100 * min_model_gain)));
        continue;
      }
      benefit += results[q].time_ms_per_day * (before - e->cost_after)
        / std::max(results[q].cost_before, 1e-9);
      best_gain = std::max(best_gain, gain);
      served.emplace_back(q, *e);
    }
    if (served.empty()
        || benefit - m.write_ms_per_day
          < sopts.min_gain_share * report.workload_ms_per_day)
      continue;
    auto r = create_recommendation(m, *t, *cat, o);
    r.benefit_source = "model";
    r.benefit_ms_per_day = benefit - m.write_ms_per_day;
    r.size_bytes = m.size_bytes;
    r.write_overhead_ms_per_day = m.write_ms_per_day;
    for (auto& [q, e] : served) {
      auto& sr = results[q];
      served_statement ss;
      ss.fingerprint = sr.fingerprint;
      ss.query = sr.query;
      ss.cost_before = sr.cost_before;
      ss.cost_after = e.cost_after;
      ss.time_ms_per_day = sr.time_ms_per_day;
      r.statements.push_back(ss);
      r.cost_before += ss.cost_before;
      r.cost_after += ss.cost_after;
      sr.cost_after = e.cost_after;
      sr.served_by.push_back(r.id);
      model_served.insert(q);
      r.reasons.push_back(e.explanation);
    }
    r.reasons.push_back(fmt::format(
      "estimated to save {:.0f} ms/day of query time net of {:.0f} ms/day of "
      "index maintenance ({:.1f}% of the workload)",
      r.benefit_ms_per_day, m.write_ms_per_day,
      report.workload_ms_per_day > 0
        ? 100 * r.benefit_ms_per_day / report.workload_ms_per_day
        : 0.0));
    r.reasons.push_back(
      "a cost model's estimate, not the planner's: test it in the sandbox, "
      "whose measurement outweighs it");
    r.evidence.push_back(
      fmt::format("estimated size {:.1f} MB",
                  static_cast<double>(r.size_bytes) / 1048576.0));
    double confidence = best_gain >= 0.9 ? 0.65 : 0.55;
    if (m.write_ms_per_day > 0.25 * benefit)
      confidence -= 0.15;
    if (lossy_order) {
      confidence = std::min(confidence, 0.45);
      r.reasons.push_back(
        "a trigram GiST index orders by similarity through lossy signatures: "
        "how much of it a search reads depends on how alike the strings are; "
        "an idea until the sandbox measures it (advise --sandbox-dsn)");
    }
    r.confidence = confidence;
    r.created_ms = r.updated_ms = now;
    (r.confidence >= o.min_confidence ? report.actions : report.other)
      .push_back(std::move(r));
  }
}

void advice_run::retire_superseded() {
  // A b-tree chosen for statements that a modelled GIN index now serves
  // far better would be maintained for nothing: it steps back to an idea.
  // So does one whose other statements the other chosen b-trees serve as
  // well without it (it was picked for a statement the GIN took over).
  if (!model_served.empty()) {
    std::map<std::string, size_t> by_fingerprint;
    for (size_t q = 0; q < results.size(); ++q)
      by_fingerprint[results[q].fingerprint] = q;
    std::set<size_t> kept{sel.chosen.begin(), sel.chosen.end()};
    auto served_without = [&](size_t c, size_t q) {
      if (model_served.count(q) != 0)
        return true;
      if (!whatif)
        return false;
      std::vector<size_t> config;
      for (auto x : sel_stmts[q].candidates)
        if (x != c && kept.count(x) != 0)
          config.push_back(x);
      auto without = cost_with(q, config);
      return without && *without <= 1.02 * sel.cost_after[q];
    };
    auto index_of = [&](const served_statement& ss) -> std::optional<size_t> {
      auto q = by_fingerprint.find(ss.fingerprint);
      if (q == by_fingerprint.end())
        return std::nullopt;
      return q->second;
    };
    for (auto it = report.actions.begin(); it != report.actions.end();) {
      auto c = candidate_of.find(it->id);
      auto& xs = it->statements;
      auto superseded = it->kind == "create_index"
        && it->benefit_source == "hypopg" && !xs.empty()
        && c != candidate_of.end()
        && std::any_of(xs.begin(), xs.end(),
                       [&](const served_statement& ss) {
                         auto q = index_of(ss);
                         return q && model_served.count(*q) != 0;
                       })
        && std::all_of(xs.begin(), xs.end(), [&](const served_statement& ss) {
                          auto q = index_of(ss);
                          return q && served_without(c->second, *q);
                        });
      if (!superseded) {
        ++it;
        continue;
      }
      kept.erase(c->second);
      for (auto& ss : it->statements) {
        auto& by = results[by_fingerprint[ss.fingerprint]].served_by;
        std::erase(by, it->id);
      }
      it->confidence = std::min(it->confidence, 0.3);
      it->reasons.push_back(
        "superseded: a GIN index (cost model) serves its statements far "
        "better, and the other indexes chosen serve the rest as well without "
        "it; keep this one only if the sandbox says otherwise");
      report.other.push_back(std::move(*it));
      it = report.actions.erase(it);
    }
  }
}

void advice_run::propose_uncosted() {
  // Without hypopg (or for indexes no estimate supports), propose the
  // statement's first candidate for its most expensive statements, clearly
  // marked as not costed.
  for (size_t c = 0; c < cands.size(); ++c) {
    auto& m = cands[c];
    if (cat->hypopg_installed && m.costable)
      continue;
    double time = 0;
    for (auto q : m.statements)
      if (results[q].served_by.empty())
        time += results[q].time_ms_per_day;
    if (time < sopts.min_gain_share * 4 * report.workload_ms_per_day)
      continue;
    auto* t = cat->find(m.c.schema, m.c.table);
    if (t == nullptr)
      continue;
    auto r = create_recommendation(m, *t, *cat, o);
    r.size_bytes = m.size_bytes;
    r.write_overhead_ms_per_day = m.write_ms_per_day;
    r.confidence = 0.3;
    r.reasons.push_back(
      m.costable ? "not costed: hypopg is not installed; the statement's shape "
                   "suggests it"
                 : "not costed: hypopg cannot simulate a " + m.c.method
          + " index; verify it in the sandbox before applying");
    for (auto q : m.statements) {
      served_statement ss;
      ss.fingerprint = results[q].fingerprint;
      ss.query = results[q].query;
      ss.cost_before = ss.cost_after = results[q].cost_before;
      ss.time_ms_per_day = results[q].time_ms_per_day;
      r.statements.push_back(ss);
    }
    r.created_ms = r.updated_ms = now;
    report.other.push_back(std::move(r));
  }
}

void advice_run::explain_no_advice() {
  // Why each statement without advice got none.
  std::map<size_t, std::vector<std::string>> rejected_by_stmt;
  for (auto& [c, reason] : sel.rejected)
    for (auto q : cands[c].statements)
      rejected_by_stmt[q].push_back(fmt::format(
        "({}) {}{}", fmt::join(cands[c].c.keys, ", "), reason,
        cands[c].breaks_hot ? " (UPDATEs set a column it holds: they would "
                              "stop being HOT)"
                            : ""));
  for (size_t q = 0; q < results.size(); ++q) {
    auto& sr = results[q];
    if (!sr.skipped.empty() || !sr.served_by.empty())
      continue;
    // What the candidate generator ruled out (served by an existing index,
    // unsupported types…) comes first: it is the more direct answer.
    std::vector<std::string> why = statement_skips[q];
    // A filter that keeps nearly every row: any index would read as much as
    // the scan does, and cost writes and space besides.
    if (auto p = parse_plan(sr.plan_before))
      for (auto* n : p->nodes()) {
        auto* t = cat->find(n->schema, n->relation);
        if (t == nullptr || n->filter.empty() || t->rows() <= 0
            || n->node_type != "Seq Scan")
          continue;
        auto rows = p->rows_of(*n);
        if (rows >= keeps_most_rows * t->rows())
          why.insert(why.begin(),
                     fmt::format("its filter keeps ~{:.0f}% of the rows of {}: "
                                 "an index would read about as much as the "
                                 "scan does, and add write cost and size",
                                 std::min(100.0, 100 * rows / t->rows()),
                                 t->qualified()));
      }
    if (auto i = rejected_by_stmt.find(q); i != rejected_by_stmt.end()) {
      auto& xs = i->second;
      auto line = "no new index pays off: " + xs.front();
      if (xs.size() > 1)
        line += fmt::format(" (and {} more candidates)", xs.size() - 1);
      why.push_back(line);
    }
    if (why.empty())
      why.push_back(sel_stmts[q].candidates.empty()
                      ? "no predicate, join or sort an index could serve"
                      : "no candidate index lowers its cost");
    sr.skipped = fmt::format("{}", fmt::join(why, "; "));
  }
}

// -- existing indexes the recommended ones make redundant ---------------------

// Existing indexes the recommended ones make redundant: a btree whose
// keys lead a new btree index (same predicate) answers nothing the new one
// cannot; it goes once the new index exists.
void advice_run::drop_redundant() {
  for (auto& r : report.actions) {
    if (r.kind != "create_index" || r.using_method != "btree")
      continue;
    auto* t = cat->find(r.schema, r.table);
    if (t == nullptr)
      continue;
    for (auto& ix : t->indexes) {
      if (ix.am != "btree" || ix.primary || ix.unique || ix.constraint_backed
          || !ix.include.empty() || ix.keys.size() > r.columns.size()
          || normalize_key(ix.predicate) != normalize_key(r.where))
        continue;
      bool prefix = true;
      for (size_t k = 0; k < ix.keys.size() && prefix; ++k)
        prefix = normalize_key(strip_keyword(ix.keys[k]))
            == normalize_key(strip_keyword(r.columns[k]))
          && (ix.keys[k].find(" DESC") != std::string::npos)
            == (r.columns[k].find(" DESC") != std::string::npos);
      if (!prefix || !superseded.insert(ix.schema + "." + ix.name).second)
        continue;
      recommendation d;
      d.kind = "drop_index";
      d.target = report.target;
      d.schema = ix.schema;
      d.table = t->name;
      d.index_name = ix.name;
      d.columns = ix.keys;
      d.using_method = ix.am;
      d.ddl = "DROP INDEX CONCURRENTLY IF EXISTS "
        + quote_qualified(ix.schema, ix.name);
      d.rollback_ddl = concurrently(ix.definition);
      d.size_bytes = -ix.size_bytes;
      d.title = fmt::format("Drop {} once {} exists", ix.name, r.index_name);
      d.reasons
        = {fmt::format("its columns ({}) lead the recommended {} ({}), which "
                       "serves the same lookups",
                       fmt::join(ix.keys, ", "), r.index_name,
                       fmt::join(r.columns, ", ")),
           "apply after creating " + r.index_name};
      d.confidence = std::min(0.7, r.confidence);
      d.id = recommendation_id(report.target, d.kind,
                               ix.schema + "." + ix.name);
      d.created_ms = d.updated_ms = now;
      report.actions.push_back(std::move(d));
    }
  }
}

// -- drops --------------------------------------------------------------------

void advice_run::advise_drops() {
  drop_options dopts;
  dopts.now_ms = now;
  dopts.stats_age_ms = cat->stats_reset_ms > 0 ? now - cat->stats_reset_ms : 0;
  for (auto& sr : results)
    if (!sr.plan_before.empty())
      if (auto p = parse_plan(sr.plan_before))
        for (auto& name : p->indexes_used())
          dopts.used_in_plans.insert(name);
  for (auto& d : drop_candidates(*cat, dopts)) {
    if (superseded.count(d.schema + "." + d.index.name) != 0)
      continue;
    recommendation r;
    r.kind = "drop_index";
    r.target = report.target;
    r.schema = d.schema;
    r.table = d.table;
    r.index_name = d.index.name;
    r.columns = d.index.keys;
    r.include = d.index.include;
    r.where = d.index.predicate;
    r.using_method = d.index.am;
    r.ddl = "DROP INDEX CONCURRENTLY IF EXISTS "
      + quote_qualified(d.schema, d.index.name);
    r.rollback_ddl = concurrently(d.index.definition);
    r.size_bytes = -d.index.size_bytes;
    r.title = fmt::format("Drop {} index {} on {}.{}", d.reason, d.index.name,
                          d.schema, d.table);
    r.reasons = d.reasons;
    r.confidence = d.confidence;
    r.write_overhead_ms_per_day = -d.writes_per_day * index_entry_write_ms;
    r.evidence.push_back(fmt::format(
      "{} scans since the statistics reset, {:.1f} MB", d.index.scans,
      static_cast<double>(d.index.size_bytes) / 1048576.0));
    r.id = recommendation_id(report.target, r.kind,
                             d.schema + "." + d.index.name);
    r.created_ms = r.updated_ms = now;
    (r.confidence >= o.min_confidence ? report.actions : report.other)
      .push_back(std::move(r));
  }
}

// -- workload findings (N+1, foreign keys, statistics) ------------------------

void advice_run::add_workload_findings() {
  std::vector<statement_metrics> metrics;
  std::vector<const statement_analysis*> aps;
  for (size_t q = 0; q < results.size(); ++q) {
    statement_metrics m;
    m.fingerprint = results[q].fingerprint;
    m.query = results[q].query;
    m.total.calls = results[q].calls;
    m.total.exec_time_ms = results[q].total_time_ms;
    metrics.push_back(std::move(m));
    aps.push_back(analyses[q].tables.empty() ? nullptr : &analyses[q]);
  }
  for (auto& f : workload_findings(metrics, aps, *cat)) {
    // A table's stale statistics are said once: a plan that reads it
    // already said so, with the statement.
    auto said = std::any_of(report.findings.begin(), report.findings.end(),
                            [&](const finding& x) {
                              return x.kind == f.kind
                                && x.relation == f.relation
                                && f.kind == "stale_statistics";
                            });
    if (!said)
      report.findings.push_back(f);
  }
  for (auto& f : report.findings) {
    if (f.kind != "n_plus_one")
      continue;
    recommendation r;
    r.kind = "n_plus_one";
    r.target = report.target;
    r.title = f.title;
    r.reasons = {f.suggestion};
    r.evidence = {f.evidence};
    r.confidence = 0.6;
    r.id = recommendation_id(report.target, r.kind, f.fingerprint);
    r.created_ms = r.updated_ms = now;
    report.other.push_back(std::move(r));
  }
}

} // namespace

std::string describe_tables(const statement_analysis& an, const catalog& cat,
                            bool figures) {
  std::string out;
  std::set<std::string> seen;
  for (auto& ref : an.tables) {
    auto* t = cat.find(ref.schema, ref.table);
    if (t == nullptr || !seen.insert(t->qualified()).second)
      continue;
    if (figures)
      out += fmt::format("table {} (~{:.0f} rows, {:.1f} MB{}):\n",
                         t->qualified(), t->rows(),
                         static_cast<double>(t->size_bytes) / 1048576.0,
                         t->kind == 'p' ? ", partitioned" : "");
    else
      out += fmt::format("table {}{}:\n", t->qualified(),
                         t->kind == 'p' ? " (partitioned)" : "");
    for (auto& c : t->columns) {
      out += fmt::format("  {} {}{}", c.name, c.type,
                         c.not_null ? " not null" : "");
      if (figures && c.has_stats)
        out += fmt::format(
          " (n_distinct {:g}, null_frac {:.2f}, correlation {:.2f})",
          c.n_distinct, c.null_frac, c.correlation);
      out += "\n";
    }
    for (auto& ix : t->indexes) {
      out += "  " + ix.definition + (ix.valid ? "" : " (INVALID)");
      if (figures)
        out += fmt::format("; -- {} scans, {:.1f} MB", ix.scans,
                           static_cast<double>(ix.size_bytes) / 1048576.0);
      out += "\n";
    }
  }
  return out;
}

expected<advice_report> advise(pg::session& s, const advise_options& opts) {
  auto started = std::chrono::steady_clock::now();
  advice_run run{s, opts};
  if (auto done = run.connect(); !done)
    return done.error();
  if (auto done = run.read_workload(); !done)
    return done.error();
  run.keep_tunable_statements();
  run.find_writes();
  run.plan_statements();
  run.cost_writes();
  run.what_if();
  run.recommend_chosen();
  run.plan_with_chosen();
  run.model_indexes();
  run.retire_superseded();
  run.propose_uncosted();
  run.explain_no_advice();
  run.drop_redundant();
  run.advise_drops();
  run.add_workload_findings();
  auto& results = run.results;
  auto& report = run.report;
  results.insert(results.end(), run.not_dml.begin(), run.not_dml.end());
  // Every statement analysed is listed; of those skipped, the most
  // expensive ones (results run from the most expensive down).
  size_t skips = 0;
  std::erase_if(results, [&](const statement_result& sr) {
    if (sr.skipped.empty() || !sr.served_by.empty()
        || ++skips <= max_listed_skips)
      return false;
    ++report.unlisted_statements;
    report.unlisted_ms_per_day += sr.time_ms_per_day;
    return true;
  });
  report.statements = std::move(results);
  report.elapsed_ms = std::chrono::duration<double, std::milli>(
                        std::chrono::steady_clock::now() - started)
                        .count();
  return std::move(report);
}

std::string to_json(const advice_report& x, bool plans) {
  return json::object([&](json::writer& w) {
    json::field(w, "target", x.target);
    json::key(w, "actions");
    w.StartArray();
    for (auto& r : x.actions)
      write(w, r);
    w.EndArray();
    json::key(w, "other");
    w.StartArray();
    for (auto& r : x.other)
      write(w, r);
    w.EndArray();
    json::key(w, "findings");
    w.StartArray();
    for (auto& f : x.findings)
      write(w, f);
    w.EndArray();
    json::key(w, "skipped");
    w.StartArray();
    for (auto& s : x.statements) {
      if (s.skipped.empty())
        continue;
      w.StartObject();
      json::field(w, "statement", s.query);
      json::field(w, "fingerprint", s.fingerprint);
      json::field(w, "reason", s.skipped);
      w.EndObject();
    }
    w.EndArray();
    json::key(w, "unlisted");
    w.StartObject();
    json::field(w, "statements", x.unlisted_statements);
    json::field(w, "ms_per_day", x.unlisted_ms_per_day);
    w.EndObject();
    json::key(w, "statements");
    w.StartArray();
    for (auto& s : x.statements) {
      w.StartObject();
      json::field(w, "fingerprint", s.fingerprint);
      json::field(w, "query", s.query);
      json::field(w, "calls", s.calls);
      json::field(w, "total_time_ms", s.total_time_ms);
      json::field(w, "mean_time_ms", s.mean_time_ms);
      json::field(w, "time_ms_per_day", s.time_ms_per_day);
      json::field(w, "cost_before", s.cost_before);
      json::field(w, "cost_after", s.cost_after);
      json::field(w, "served_by", s.served_by);
      json::key(w, "skipped");
      if (s.skipped.empty())
        w.Null();
      else
        json::str(w, s.skipped);
      if (plans) {
        for (auto [name, text] : {std::pair{"plan_before", &s.plan_before},
                                  std::pair{"plan_after", &s.plan_after}}) {
          json::key(w, name);
          auto p = text->empty() ? expected<plan>{failure{}}
                                 : parse_plan(*text);
          if (p)
            write_plan(w, *p);
          else
            w.Null();
        }
      }
      w.EndObject();
    }
    w.EndArray();
    json::field(w, "warnings", x.warnings);
    json::field(w, "workload_ms_per_day", x.workload_ms_per_day);
    json::field(w, "whatif_calls", x.whatif_calls);
    json::field(w, "elapsed_ms", x.elapsed_ms);
  });
}

std::string to_text(const advice_report& x) {
  std::string out;
  for (auto& w : x.warnings)
    out += "warning: " + w + "\n";
  out += fmt::format("{} index action(s) for {}\n", x.actions.size(), x.target);
  for (auto& r : x.actions) {
    out += fmt::format("\n  {}\n", r.title);
    for (auto& first : r.prerequisites)
      out += fmt::format("    first, by a person allowed to (never run by the "
                         "engine): {};\n",
                         first);
    out += fmt::format("    {};\n    rollback: {};\n", r.ddl, r.rollback_ddl);
    out += fmt::format("    confidence {:.2f}", r.confidence);
    if (r.kind == "create_index")
      out += fmt::format(
        ", saves ~{:.0f} ms/day, ~{:.1f} MB, costed by {}",
        r.benefit_ms_per_day, static_cast<double>(r.size_bytes) / 1048576.0,
        r.benefit_source.empty() ? "nothing" : optischema::benefit_source(r));
    out += "\n";
    for (auto& why : r.reasons)
      out += "    - " + why + "\n";
  }
  if (!x.other.empty()) {
    out += fmt::format("\n{} other recommendation(s):\n", x.other.size());
    for (auto& r : x.other)
      out += fmt::format("  [{:.2f}] {}\n", r.confidence, r.title);
  }
  if (!x.findings.empty()) {
    out += fmt::format("\n{} finding(s):\n", x.findings.size());
    for (auto& f : x.findings)
      out += fmt::format("  [{}] {}\n      {}\n", to_string(f.level), f.title,
                         f.suggestion);
  }
  out += "\nStatements without index advice:\n";
  for (auto& s : x.statements)
    if (!s.skipped.empty())
      out += fmt::format("  {:.60}\n      {}\n", s.query, s.skipped);
  if (x.unlisted_statements > 0)
    out += fmt::format("  … and {} cheaper statements ({:.0f} ms/day), not "
                       "listed\n",
                       x.unlisted_statements, x.unlisted_ms_per_day);
  return out;
}

} // namespace optischema
