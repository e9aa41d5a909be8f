#include "optischema/advice/rewrite_check.hpp"
#include "parameter_samples_internal.hpp"

#include "optischema/analysis/parse_tree.hpp"
#include "optischema/analysis/plan.hpp"
#include "optischema/pg/rows.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

// How it works: both texts are parsed with libpg_query; the parameter lists
// are the ParamRef numbers of the parse trees; costs come from EXPLAIN
// (generic plans for $n). For the rows, each $n of the original is traced
// to the column it is compared with (through the FROM items and aliases of
// its SELECT, resolved in the catalog), sample values come from that
// column's pg_stats or its own rows, and both texts are run with those
// values spliced in as typed literals at the ParamRef locations.

namespace optischema {

namespace {

using row = std::vector<std::optional<std::string>>;

// -- reading libpg_query's JSON -----------------------------------------------

using parse_tree::get;
using parse_tree::integer;
using parse_tree::str;

// -- shared with the parameter samples (parameter_samples_internal.hpp) -------

using parameter_samples_detail::build_samples;
using parameter_samples_detail::items;
using parameter_samples_detail::literals_of;
using parameter_samples_detail::names;
using parameter_samples_detail::node;
using parameter_samples_detail::numbers;
using parameter_samples_detail::param_source;
using parameter_samples_detail::param_sources;
using parameter_samples_detail::params_of;
using parameter_samples_detail::parse_one;
using parameter_samples_detail::sample;
using parameter_samples_detail::sample_values;
using parameter_samples_detail::splice;
using parameter_samples_detail::statement;
using parameter_samples_detail::values_for;

/// "SelectStmt" → "a SELECT", for people.
std::string kind_name(const std::string& type) {
  static const std::map<std::string, std::string> known{
    {"SelectStmt", "a SELECT"},  {"InsertStmt", "an INSERT"},
    {"UpdateStmt", "an UPDATE"}, {"DeleteStmt", "a DELETE"},
    {"MergeStmt", "a MERGE"},
  };
  auto i = known.find(type);
  return i != known.end() ? i->second : "a " + type;
}

// -- parameters ---------------------------------------------------------------

/// "$1..$3" when contiguous, "$1, $4" otherwise.
std::string list_params(const std::set<int>& ns) {
  if (ns.empty())
    return "no parameters";
  if (ns.size() > 1 && *ns.rbegin() - *ns.begin() + 1 == int(ns.size()))
    return fmt::format("${}..${}", *ns.begin(), *ns.rbegin());
  std::string out;
  for (auto n : ns)
    out += fmt::format("{}${}", out.empty() ? "" : ", ", n);
  return out;
}

std::set<int> minus(const std::set<int>& a, const std::set<int>& b) {
  std::set<int> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(),
                      std::inserter(out, out.end()));
  return out;
}

/// What the rewrite adds or drops; empty when the lists are equal.
std::string parameter_mismatch(const std::set<int>& before,
                               const std::set<int>& after) {
  auto added = minus(after, before);
  auto dropped = minus(before, after);
  if (added.empty() && dropped.empty())
    return {};
  std::string out = "the rewrite";
  if (!added.empty())
    out += " adds " + list_params(added);
  if (!added.empty() && !dropped.empty())
    out += " and";
  if (!dropped.empty())
    out += " drops " + list_params(dropped);
  return out;
}

// -- costs --------------------------------------------------------------------

expected<double> plan_cost(pg::session& s, const std::string& sql,
                           const pg::explain_options& opts) {
  auto json = pg::explain_json(s, sql, opts);
  if (!json)
    return json.error();
  auto p = parse_plan(*json);
  if (!p)
    return p.error();
  return p->total_cost();
}

/// 1234.5 → "1234.5", 56.00 → "56".
std::string show_cost(double x) {
  auto out = fmt::format("{:.2f}", x);
  while (out.back() == '0')
    out.pop_back();
  if (out.back() == '.')
    out.pop_back();
  return out;
}

// -- comparing rows -----------------------------------------------------------

/// `message` (PostgreSQL's, about a statement run on sample values) without
/// the values it may quote: its first line, quoted parts masked. Values are
/// data, and reasons leave the engine (API, events, store).
std::string without_values(const std::string& message) {
  auto line = message.substr(0, message.find('\n'));
  std::string out;
  for (size_t i = 0; i < line.size(); ++i) {
    auto c = line[i];
    if (c != '"' && c != '\'') {
      out += c;
      continue;
    }
    auto end = line.find(c, i + 1);
    if (end == std::string::npos) {
      out += c;
      continue;
    }
    out += std::string{c} + "…" + c;
    i = end;
  }
  return out;
}

std::string count_rows(size_t n) {
  return fmt::format("{} row{}", n, n == 1 ? "" : "s");
}

/// Differences as multisets, in counts (rows are data); empty when equal.
std::string multiset_difference(std::vector<row> a, std::vector<row> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  if (a == b)
    return {};
  std::vector<row> only_a;
  std::vector<row> only_b;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(),
                      std::back_inserter(only_a));
  std::set_difference(b.begin(), b.end(), a.begin(), a.end(),
                      std::back_inserter(only_b));
  return fmt::format("rows differ: the original returns {}, the rewrite {}; "
                     "{} only in the original, {} only in the rewrite",
                     count_rows(a.size()),
                     a.size() == b.size() ? "as many" : count_rows(b.size()),
                     count_rows(only_a.size()), count_rows(only_b.size()));
}

/// How the original orders its rows at the top level.
struct ordering {
  bool ordered = false;
  bool has_limit = false;
  bool has_offset = false;
  /// The ORDER BY items (SortBy.node), to map onto result columns.
  std::vector<const node*> keys;
};

bool present(const node* limit) {
  // LIMIT ALL and LIMIT NULL arrive as a NULL constant.
  auto* isnull = get(get(limit, "A_Const"), "isnull");
  return limit != nullptr && !(isnull != nullptr && isnull->IsTrue());
}

ordering ordering_of(const statement& st) {
  ordering out;
  auto* body = st.body();
  if (auto* sort = items(get(body, "sortClause")))
    for (auto& x : sort->GetArray())
      out.keys.push_back(get(get(&x, "SortBy"), "node"));
  out.ordered = !out.keys.empty();
  out.has_limit = present(get(body, "limitCount"));
  out.has_offset = present(get(body, "limitOffset"));
  return out;
}

/// The result columns the ORDER BY items are, when each is a position or a
/// name that appears exactly once among the columns.
std::optional<std::vector<size_t>>
key_columns(const ordering& o, const std::vector<std::string>& columns) {
  std::vector<size_t> out;
  for (auto* k : o.keys) {
    if (auto* c = get(k, "A_Const"); c != nullptr && get(c, "ival")) {
      auto pos = integer(get(get(c, "ival"), "ival"));
      if (pos < 1 || static_cast<size_t>(pos) > columns.size())
        return std::nullopt;
      out.push_back(static_cast<size_t>(pos) - 1);
      continue;
    }
    auto fields = names(get(get(k, "ColumnRef"), "fields"));
    if (!fields || fields->empty()
        || std::count(columns.begin(), columns.end(), fields->back()) != 1)
      return std::nullopt;
    out.push_back(static_cast<size_t>(
      std::find(columns.begin(), columns.end(), fields->back())
      - columns.begin()));
  }
  return out;
}

row key_of(const row& r, const std::vector<size_t>& keys) {
  row out;
  for (auto k : keys)
    out.push_back(k < r.size() ? r[k] : std::nullopt);
  return out;
}

/// True when `b` is `a` with rows that tie on the sort keys in another
/// order. Under LIMIT (OFFSET) the last (first) run of ties may hold other
/// members: PostgreSQL may pick any of the tying rows.
bool same_but_ties(const std::vector<row>& a, const std::vector<row>& b,
                   const std::vector<size_t>& keys, const ordering& o) {
  if (a.size() != b.size())
    return false;
  size_t i = 0;
  while (i < a.size()) {
    auto key = key_of(a[i], keys);
    auto j = i + 1;
    while (j < a.size() && key_of(a[j], keys) == key)
      ++j;
    for (auto k = i; k < j; ++k)
      if (key_of(b[k], keys) != key)
        return false;
    auto free_members = (j == a.size() && o.has_limit)
      || (i == 0 && o.has_offset);
    if (!free_members
        && !multiset_difference({a.begin() + i, a.begin() + j},
                                {b.begin() + i, b.begin() + j})
              .empty())
      return false;
    i = j;
  }
  return true;
}

/// How the rows were compared, for the reason.
std::string how_compared(const ordering& o, bool ties) {
  if (!o.ordered)
    return "unordered";
  if (ties)
    return "ordered; rows that tie on the ORDER BY keys come in another order";
  return "ordered";
}

struct row_verdict {
  /// Empty when the rows count as the same.
  std::string difference;
  bool ties_reordered = false;
};

row_verdict compare_rows(const pg::result_set& a, const pg::result_set& b,
                         const ordering& o) {
  if (a.columns != b.columns)
    return {fmt::format("columns differ: the original returns ({}), the "
                        "rewrite ({})",
                        fmt::join(a.columns, ", "),
                        fmt::join(b.columns, ", "))};
  if (!o.ordered) {
    auto d = multiset_difference(a.rows, b.rows);
    if (!d.empty() && o.has_limit)
      d += " (the original has LIMIT without ORDER BY: which rows it returns "
           "is not determined)";
    return {d};
  }
  if (a.rows == b.rows)
    return {};
  if (auto keys = key_columns(o, a.columns);
      keys && same_but_ties(a.rows, b.rows, *keys, o))
    return {{}, true};
  if (auto d = multiset_difference(a.rows, b.rows); !d.empty())
    return {d};
  size_t i = 0;
  while (a.rows[i] == b.rows[i])
    ++i;
  return {fmt::format("rows in another order (the original orders them): "
                      "the first difference is row {} of {}",
                      i + 1, a.rows.size())};
}

// -- the check on the target (no execution) ----------------------------------

class checker {
public:
  checker(pg::session& s, const rewrite_check_options& opts, rewrite_check& out)
    : s_(s), opts_(opts), out_(out) {
    // nop
  }

  void run(const std::string& original, const std::string& rewrite) {
    auto before = parse_one(original, "the original");
    if (!before)
      return fail("parses", "the original does not parse",
                  before.error().message);
    auto after = parse_one(rewrite, "the rewrite");
    if (!after)
      return fail("parses", "no", after.error().message);
    if (after->type != before->type)
      return fail("parses", "yes, but as " + kind_name(after->type),
                  fmt::format("the rewrite is {}, the original {}",
                              kind_name(after->type), kind_name(before->type)));
    step("parses", "yes, one " + after->type);
    auto params = check_parameters(*before, *after);
    check_cost(*before, *after);
    if (before->type != "SelectStmt") {
      out_.reason = "not verifiable: only SELECT rewrites are checked by their "
                    "results; an UPDATE/DELETE/INSERT rewrite is never "
                    "executed";
      if (!failed_.empty())
        out_.reason += "; also " + failed_;
      return;
    }
    if (!failed_.empty()) {
      out_.reason = failed_;
      return;
    }
    // What is left runs both statements: only on a copy, never here.
    out_.rows_pending = true;
    out_.passed = fmt::format(
      "parses, {}, cost {} -> {}",
      params.empty() ? "no parameters" : "keeps " + list_params(params),
      show_cost(out_.cost_before), show_cost(out_.cost_after));
    out_.reason = "unverified: the rows are compared on the sandbox's copy "
                  "only; passed so far: "
      + out_.passed;
  }

private:
  void step(const std::string& name, const std::string& outcome) {
    out_.steps.push_back(name + ": " + outcome);
  }

  void fail(const std::string& name, const std::string& outcome,
            const std::string& reason) {
    step(name, outcome);
    out_.reason = reason;
  }

  /// Remembers the first failed step; later steps still report.
  void failed(const std::string& reason) {
    if (failed_.empty())
      failed_ = reason;
  }

  std::set<int> check_parameters(const statement& before,
                                 const statement& after) {
    auto a = numbers(params_of(before));
    auto b = numbers(params_of(after));
    if (auto d = parameter_mismatch(a, b); !d.empty()) {
      step("parameters", d);
      failed("parameters differ: " + d);
    } else {
      step("parameters", a.empty() ? "none" : list_params(a) + " kept");
    }
    return a;
  }

  void check_cost(const statement& before, const statement& after) {
    // A refusal (pg/safety.hpp) says what the text calls.
    auto why = [](const char* who, const failure& f) {
      return f.code == ec::bad_request
        ? fmt::format("{} is not planned: it {}", who, f.message)
        : fmt::format("{} cannot be planned: {}", who, f.message);
    };
    auto a = plan_cost(s_, before.text, opts_.explain);
    if (!a) {
      step("cost", "the original cannot be planned");
      return failed(why("the original", a.error()));
    }
    out_.cost_before = *a;
    auto b = plan_cost(s_, after.text, opts_.explain);
    if (!b) {
      step("cost", "the rewrite cannot be planned");
      return failed(why("the rewrite", b.error()));
    }
    out_.cost_after = *b;
    step("cost", show_cost(*a) + " -> " + show_cost(*b));
    if (*b >= *a)
      failed(fmt::format("slower: cost {} vs {} for the original{}",
                         show_cost(*b), show_cost(*a),
                         *b == *a ? " (not cheaper)" : ""));
  }

  pg::session& s_;
  const rewrite_check_options& opts_;
  rewrite_check& out_;
  std::string failed_;
};

// -- the rows, on a copy
// ---------------------------------------------------------

class row_comparer {
public:
  row_comparer(pg::session& s, const catalog& cat,
               const rewrite_check_options& opts, rows_check& out)
    : s_(s), cat_(cat), opts_(opts), out_(out) {
    // nop
  }

  void run(const std::string& original, const std::string& rewrite) {
    auto before = parse_one(original, "the original");
    auto after = parse_one(rewrite, "the rewrite");
    if (!before || !after) {
      out_.reason = (before ? after : before).error().message;
      return;
    }
    auto params = numbers(params_of(*before));
    if (params != numbers(params_of(*after))) {
      out_.reason = "the rewrite does not take the original's parameters";
      return;
    }
    if (auto summary = compare(*before, *after, params)) {
      out_.same = true;
      out_.reason = *summary;
    }
  }

private:
  void step(const std::string& name, const std::string& outcome) {
    out_.steps.push_back(name + ": " + outcome);
  }

  void fail(const std::string& outcome, const std::string& reason) {
    step("rows", outcome);
    out_.reason = reason;
  }

  /// Sample parameter sets for the original's parameters, with the steps
  /// saying where each value comes from (never the values: they are data).
  std::vector<sample> samples(const statement& before,
                              const std::set<int>& params,
                              std::map<int, param_source>& sources) {
    sources = param_sources(cat_, *before.wrapped());
    std::map<int, sample_values> values;
    for (auto n : params) {
      auto i = sources.find(n);
      values[n] = values_for(
        s_, i != sources.end() ? i->second : param_source{}, opts_);
      step(fmt::format("sample ${}", n), values[n].origin);
    }
    return build_samples(params, sources, values,
                         params.empty() ? 1 : opts_.samples);
  }

  /// Runs both on every sample; the summary for the reason, or nullopt
  /// after setting the reason.
  std::optional<std::string> compare(const statement& before,
                                     const statement& after,
                                     const std::set<int>& params) {
    std::vector<std::string> types;
    if (!params.empty()) {
      auto t = pg::parameter_types(s_, before.text, opts_.explain);
      if (!t) {
        fail("not compared",
             "cannot read the parameter types: "
               + without_values(t.error().message));
        return std::nullopt;
      }
      types = std::move(*t);
    }
    std::map<int, param_source> sources;
    auto sets = samples(before, params, sources);
    auto order = ordering_of(before);
    auto refs_a = params_of(before);
    auto refs_b = params_of(after);
    pg::fetch_options fetch{opts_.statement_timeout, opts_.explain.lock_timeout,
                            opts_.row_limit};
    auto ties = false;
    for (size_t k = 0; k < sets.size(); ++k) {
      auto literals = literals_of(sets[k], types, sources);
      auto where = params.empty()
        ? std::string{}
        : fmt::format(" (sample {} of {})", k + 1, sets.size());
      auto r = pg::fetch_rows(
        s_,
        {{"the original", splice(before.text, refs_a, literals)},
         {"the rewrite", splice(after.text, refs_b, literals)}},
        fetch);
      if (!r) {
        fail("not compared", without_values(r.error().message) + where);
        return std::nullopt;
      }
      auto& a = r->at(0);
      auto& b = r->at(1);
      if (a.more || b.more) {
        fail("not compared",
             fmt::format("too many rows to compare (> {}){}", opts_.row_limit,
                         where));
        return std::nullopt;
      }
      auto verdict = compare_rows(a, b, order);
      if (!verdict.difference.empty()) {
        fail("differ", verdict.difference + where);
        return std::nullopt;
      }
      ties = ties || verdict.ties_reordered;
      out_.samples += 1;
      out_.rows += static_cast<int64_t>(a.rows.size());
    }
    if (out_.rows == 0 && out_.samples > 0) {
      // Two empty results agree whatever the rewrite does: no evidence.
      fail("inconclusive",
           fmt::format("inconclusive: none of the {} sample{} returned a "
                       "row, so equal results prove nothing",
                       out_.samples, out_.samples == 1 ? "" : "s"));
      return std::nullopt;
    }
    auto detail = fmt::format("on {} sample{} ({}, {})", out_.samples,
                              out_.samples == 1 ? "" : "s",
                              how_compared(order, ties),
                              count_rows(static_cast<size_t>(out_.rows)));
    step("rows", "same " + detail);
    return "same rows " + detail;
  }

  pg::session& s_;
  const catalog& cat_;
  const rewrite_check_options& opts_;
  rows_check& out_;
};

} // namespace

rewrite_check check_rewrite(pg::session& target, const std::string& original,
                            const std::string& rewrite,
                            const rewrite_check_options& opts) {
  rewrite_check out;
  try {
    checker{target, opts, out}.run(original, rewrite);
  } catch (const std::exception& e) {
    // Never throws: whatever escaped is a reason, not a crash.
    out.verified = false;
    out.rows_pending = false;
    out.reason = std::string{"internal error while checking: "} + e.what();
  }
  return out;
}

rows_check compare_rows(pg::session& copy, const catalog& cat,
                        const std::string& original, const std::string& rewrite,
                        const rewrite_check_options& opts) {
  rows_check out;
  try {
    row_comparer{copy, cat, opts, out}.run(original, rewrite);
  } catch (const std::exception& e) {
    out.same = false;
    out.reason = std::string{"internal error while comparing rows: "}
      + e.what();
  }
  return out;
}

void complete(rewrite_check& check, const rows_check& rows) {
  if (!check.rows_pending)
    return;
  check.rows_pending = false;
  check.steps.insert(check.steps.end(), rows.steps.begin(), rows.steps.end());
  check.samples_compared = rows.samples;
  check.rows_compared = rows.rows;
  check.verified = rows.same;
  check.reason = rows.same ? "verified: " + check.passed + ", " + rows.reason
                           : rows.reason;
}

void not_compared(rewrite_check& check, const std::string& why) {
  if (!check.rows_pending)
    return;
  check.rows_pending = false;
  check.steps.push_back("rows: not compared (" + why + ")");
  check.reason = "unverified: " + why + "; passed so far: " + check.passed;
}

} // namespace optischema
