#include "optischema/sandbox/sandbox.hpp"
#include "optischema/util/json_parse.hpp"
#include "libpq.hpp"

#include "optischema/advice/parameter_samples.hpp"
#include "optischema/advice/rewrite_check.hpp"
#include "optischema/analysis/change.hpp"
#include "optischema/analysis/fingerprint.hpp"
#include "optischema/analysis/json.hpp"
#include "optischema/pg/catalog_reader.hpp"
#include "optischema/pg/ddl.hpp"
#include "optischema/pg/safety.hpp"
#include "optischema/pg/session.hpp"
#include "optischema/util/clock.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <functional>

namespace optischema::sandbox {

using namespace detail;

namespace {

/// A session on the copy and the copy's catalog (its statistics give the
/// sample values), after refusing a privileged role.
struct copy_access {
  pg::session session;
  catalog cat;
};

expected<copy_access> open_copy(const pg::conninfo& db, const options& opts) {
  if (auto role = check_role(db); !role)
    return role.error();
  pg::session::options so;
  so.statement_timeout = opts.statement_timeout;
  so.lock_timeout = std::chrono::milliseconds{5000};
  pg::session s{db, so};
  auto cat = pg::read_catalog(s);
  if (!cat)
    return cat.error();
  return copy_access{std::move(s), std::move(*cat)};
}

/// A SELECT: it runs read-only (one that writes in WITH fails, and is
/// reported as not timed).
bool is_query(const std::string& sql) {
  auto type = single_statement_type(reparsable_sql(sql));
  return type && *type == "SelectStmt";
}

double median(std::vector<double> xs) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto n = xs.size();
  return n % 2 == 1 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

/// The DDL as the sandbox runs it: in a transaction, so without
/// CONCURRENTLY (the copy has no other users to keep writing).
std::string in_transaction(const std::string& ddl) {
  auto out = ddl;
  for (auto* kw : {"INDEX CONCURRENTLY ", "index concurrently "})
    if (auto at = out.find(kw); at != std::string::npos)
      out.replace(at, std::string{kw}.size(), "INDEX ");
  return out;
}

/// A statement being timed: its executable texts (one per parameter set).
struct subject {
  timing t;
  std::vector<std::string> texts;
  /// What runs after the change when it is another text (a rewrite).
  std::vector<std::string> after_texts;
  /// A query: timed in a read-only subtransaction (writes in one that is
  /// rolled back).
  bool query = false;
};

/// `cond` with its constants masked: sampled parameter values are data
/// from the target, and plans leave the engine (API, events).
std::string mask_constants(const std::string& cond) {
  std::string out;
  auto ident = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '"';
  };
  for (size_t i = 0; i < cond.size();) {
    auto c = cond[i];
    if (c == '\'') {
      // Skip to the closing quote ('' is an escaped quote inside).
      size_t j = i + 1;
      while (j < cond.size()) {
        if (cond[j] == '\'' && j + 1 < cond.size() && cond[j + 1] == '\'')
          j += 2;
        else if (cond[j] == '\'')
          break;
        else
          ++j;
      }
      out += "'…'";
      i = j + 1;
    } else if (std::isdigit(static_cast<unsigned char>(c))
               && (i == 0 || !ident(cond[i - 1]))) {
      while (i < cond.size()
             && (std::isdigit(static_cast<unsigned char>(cond[i]))
                 || cond[i] == '.'))
        ++i;
      out += '?';
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

/// The plan with the constants of its conditions masked.
std::string masked_plan(const std::string& plan) {
  rapidjson::Document d;
  if (!json::parse(d, plan, "a sandbox plan"))
    return {};
  std::function<void(rapidjson::Value&)> walk = [&](rapidjson::Value& v) {
    if (v.IsArray()) {
      for (auto& x : v.GetArray())
        walk(x);
      return;
    }
    if (!v.IsObject())
      return;
    for (auto& m : v.GetObject()) {
      std::string key = m.name.GetString();
      if (m.value.IsString()
          && (key.ends_with("Cond") || key.ends_with("Filter"))) {
        auto masked = mask_constants(m.value.GetString());
        m.value.SetString(masked.c_str(),
                          static_cast<rapidjson::SizeType>(masked.size()),
                          d.GetAllocator());
      } else {
        walk(m.value);
      }
    }
  };
  walk(d);
  rapidjson::StringBuffer buf;
  json::writer w{buf};
  d.Accept(w);
  return json::text(buf);
}

/// One EXPLAIN ANALYZE inside a savepoint that is rolled back (a write
/// changes nothing); a query runs read-only there (what it calls cannot
/// write either). Returns the execution time and the plan.
expected<std::pair<double, std::string>>
explain_analyze(PGconn* c, const std::string& sql, bool query) {
  if (auto r = exec(c, "SAVEPOINT optischema_run", "SAVEPOINT"); !r)
    return r.error();
  // Going read-only is allowed mid-transaction; ROLLBACK TO SAVEPOINT
  // restores read-write for the DDL that follows.
  if (query)
    if (auto r = exec(c, "SET LOCAL transaction_read_only = on",
                      "a read-only subtransaction");
        !r) {
      exec(c, "ROLLBACK TO SAVEPOINT optischema_run", "ROLLBACK TO SAVEPOINT");
      return r.error();
    }
  auto r = exec_one(c, "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql,
                    "EXPLAIN ANALYZE in the sandbox");
  auto undo = exec(c, "ROLLBACK TO SAVEPOINT optischema_run",
                   "ROLLBACK TO SAVEPOINT");
  if (!r)
    return r.error();
  if (!undo)
    return undo.error();
  std::string plan = PQgetvalue(r->get(), 0, 0);
  rapidjson::Document d;
  if (!json::parse(d, plan, "a sandbox plan") || !d.IsArray() || d.Empty()
      || !d[0].IsObject() || !d[0].HasMember("Execution Time")
      || !d[0]["Execution Time"].IsNumber())
    return failure{ec::internal, "EXPLAIN ANALYZE gave no execution time"};
  return std::make_pair(d[0]["Execution Time"].GetDouble(), masked_plan(plan));
}

/// Times every subject once (one run): the sum over its parameter sets.
void time_round(PGconn* c, std::vector<subject>& xs, bool after, bool keep) {
  for (auto& x : xs) {
    if (!x.t.error.empty())
      continue;
    double sum = 0;
    auto& texts = after && !x.after_texts.empty() ? x.after_texts : x.texts;
    for (size_t i = 0; i < texts.size(); ++i) {
      auto r = explain_analyze(c, texts[i], x.query);
      if (!r) {
        x.t.error = r.error().message;
        break;
      }
      sum += r->first;
      if (i == 0 && keep)
        (after ? x.t.plan_after : x.t.plan_before) = r->second;
    }
    if (x.t.error.empty())
      (after ? x.t.after_ms : x.t.before_ms).push_back(sum);
  }
}

void write(json::writer& w, const timing& t) {
  w.StartObject();
  json::field(w, "fingerprint", t.fingerprint);
  json::field(w, "query", t.query);
  json::field(w, "median_before_ms", t.median_before_ms);
  json::field(w, "median_after_ms", t.median_after_ms);
  for (auto [k, xs] : {std::pair{"before_ms", &t.before_ms},
                       std::pair{"after_ms", &t.after_ms}}) {
    json::key(w, k);
    w.StartArray();
    for (auto x : *xs)
      json::number(w, x);
    w.EndArray();
  }
  json::field(w, "uses_index", t.uses_index);
  for (auto [k, plan] : {std::pair{"plan_before", &t.plan_before},
                         std::pair{"plan_after", &t.plan_after}}) {
    json::key(w, k);
    if (plan->empty())
      w.Null();
    else
      w.RawValue(plan->data(), plan->size(), rapidjson::kArrayType);
  }
  json::field(w, "error", t.error);
  w.EndObject();
}

/// Slower beyond noise: the median grew past the factor and floor, and
/// every run after the change took longer than every run before it (a
/// machine busy with other work moves single runs, not whole
/// distributions).
bool slower(const timing& t, const options& opts) {
  if (!t.error.empty() || t.after_ms.empty() || t.before_ms.empty())
    return false;
  auto fastest_after = *std::min_element(t.after_ms.begin(), t.after_ms.end());
  auto slowest_before = *std::max_element(t.before_ms.begin(),
                                          t.before_ms.end());
  return t.median_after_ms
    > t.median_before_ms * opts.regression_factor + opts.regression_floor_ms
    && fastest_after > slowest_before;
}

} // namespace

std::string to_json(const result& x) {
  return json::object([&](json::writer& w) {
    json::field(w, "verdict", x.verdict);
    json::field(w, "speedup", x.speedup);
    json::field(w, "summary", x.summary);
    json::field(w, "runs", x.runs);
    json::field(w, "tested", x.tested_ms);
    json::field(w, "duration_ms", x.duration_ms);
    json::key(w, "served");
    w.StartArray();
    for (auto& t : x.served)
      write(w, t);
    w.EndArray();
    json::key(w, "others");
    w.StartArray();
    for (auto& t : x.others)
      write(w, t);
    w.EndArray();
    json::key(w, "copy");
    auto copy = to_json(x.copy);
    w.RawValue(copy.data(), copy.size(), rapidjson::kObjectType);
  });
}

expected<result> test(const pg::conninfo& db, const recommendation& r,
                      const std::vector<std::string>& other_statements,
                      const options& opts) {
  auto start = std::chrono::steady_clock::now();
  // A rewrite changes its statement's text; an index action the schema.
  auto rewrite = r.kind == "rewrite";
  if (rewrite && (r.rewrite_sql.empty() || r.statements.empty()))
    return failure{ec::bad_request, "the rewrite has no statement to time"};
  std::optional<index_change> change;
  if (!rewrite) {
    auto c = change_for(r, false);
    if (!c)
      return c.error();
    change = std::move(*c);
  }
  // The extension an index needs (pg_trgm) is created on the copy, inside
  // the transaction that is rolled back: a person decides about the
  // target's; the copy is ours. Only the advisor's own allow-listed form.
  auto extensions = pg::prerequisite_extensions(r.prerequisites);
  if (!extensions)
    return extensions.error();
  result out;
  out.runs = std::max(opts.runs, 1);
  // -- realistic parameters, drawn from the copy's statistics and values
  auto copy = open_copy(db, opts);
  if (!copy)
    return copy.error();
  auto& s = copy->session;
  auto* cat = &copy->cat;
  rewrite_check_options sampling;
  sampling.samples = std::max(opts.samples, 1);
  sampling.statement_timeout = opts.statement_timeout;
  auto make = [&](const std::string& fp, const std::string& query) {
    subject x;
    x.t.fingerprint = fp;
    x.t.query = query;
    x.query = is_query(query);
    // Workload texts are any database user's: the same rule as on a target.
    if (auto safe = pg::check_statement(s, query); !safe) {
      x.t.error = "not run: " + safe.error().message;
      return x;
    }
    auto texts = sample_executions(s, *cat, query, sampling);
    if (texts)
      x.texts = std::move(*texts);
    else
      x.t.error = texts.error().message;
    return x;
  };
  std::vector<subject> served;
  if (rewrite) {
    // Both texts on the same sample values, the original's.
    subject x;
    x.t.fingerprint = r.statements.front().fingerprint;
    x.t.query = r.statements.front().query;
    x.query = is_query(x.t.query) && is_query(r.rewrite_sql);
    for (auto& text : {x.t.query, r.rewrite_sql})
      if (auto safe = pg::check_statement(s, text); !safe)
        return failure{safe.error().code, "not run: " + safe.error().message};
    auto pairs = sample_pairs(s, *cat, x.t.query, r.rewrite_sql, sampling);
    if (!pairs)
      return pairs.error();
    for (auto& [a, b] : *pairs) {
      x.texts.push_back(a);
      x.after_texts.push_back(b);
    }
    served.push_back(std::move(x));
  } else {
    for (auto& st : r.statements)
      served.push_back(make(st.fingerprint, st.query));
  }
  std::vector<subject> others;
  for (auto& q : rewrite ? std::vector<std::string>{} : other_statements)
    if (std::none_of(r.statements.begin(), r.statements.end(),
                     [&](const served_statement& x) { return x.query == q; }))
      others.push_back(make("", q));
  s.disconnect();
  // -- before, the change, after: one transaction, rolled back
  auto c = connect(db, "the sandbox");
  if (!c)
    return c.error();
  auto* conn = c->get();
  for (auto& sql : {std::string{"BEGIN"},
                    fmt::format("SET LOCAL statement_timeout = {}",
                                opts.statement_timeout.count())})
    if (auto x = exec(conn, sql, "starting the test"); !x)
      return x.error();
  // One unmeasured round warms the cache for both sides alike.
  time_round(conn, served, false, false);
  time_round(conn, others, false, false);
  for (auto* xs : {&served, &others})
    for (auto& x : *xs)
      x.t.before_ms.clear();
  for (int k = 0; k < out.runs; ++k) {
    time_round(conn, served, false, k == 0);
    time_round(conn, others, false, k == 0);
  }
  for (auto& name : *extensions)
    if (auto x = exec(conn,
                      "CREATE EXTENSION IF NOT EXISTS " + quote_ident(name),
                      "the index's extension in the sandbox");
        !x) {
      exec(conn, "ROLLBACK", "ROLLBACK");
      return x.error();
    }
  if (change)
    if (auto ddl = exec(conn, in_transaction(change->sql),
                        "the DDL in the sandbox");
        !ddl) {
      exec(conn, "ROLLBACK", "ROLLBACK");
      return ddl.error();
    }
  if (change && !r.table.empty())
    if (auto a = exec(conn, "ANALYZE " + quote_qualified(r.schema, r.table),
                      "ANALYZE in the sandbox");
        !a) {
      exec(conn, "ROLLBACK", "ROLLBACK");
      return a.error();
    }
  for (int k = 0; k < out.runs; ++k) {
    time_round(conn, served, true, k == 0);
    time_round(conn, others, true, k == 0);
  }
  exec(conn, "ROLLBACK", "ROLLBACK");
  int64_t quiet_triggers = 0;
  if (auto n = exec(conn,
                    "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal "
                    "AND tgenabled = 'D'",
                    "counting the copy's disabled triggers"))
    quiet_triggers = std::atoll(PQgetvalue(n->get(), 0, 0));
  auto writes_timed = std::any_of(others.begin(), others.end(),
                                  [](const subject& x) {
                                    return !x.query && !x.t.after_ms.empty();
                                  })
    || std::any_of(served.begin(), served.end(), [](const subject& x) {
                        return !x.query && !x.t.after_ms.empty();
                      });
  // -- the verdict
  // The plans were rewritten by RapidJSON (masked_plan): no space after ':'.
  auto needle = fmt::format("\"Index Name\":{}", json::quote(r.index_name));
  double before = 0;
  double after = 0;
  auto timed = 0;
  auto uses = false;
  for (auto* xs : {&served, &others})
    for (auto& x : *xs) {
      x.t.median_before_ms = median(x.t.before_ms);
      x.t.median_after_ms = median(x.t.after_ms);
      x.t.uses_index = x.t.plan_after.find(needle) != std::string::npos;
    }
  for (auto& x : served) {
    if (!x.t.error.empty() || x.t.after_ms.empty())
      continue;
    ++timed;
    before += x.t.median_before_ms;
    after += x.t.median_after_ms;
    uses = uses || x.t.uses_index;
  }
  std::vector<std::string> regressed;
  for (auto* xs : {&served, &others})
    for (auto& x : *xs)
      if (slower(x.t, opts))
        regressed.push_back(
          fmt::format("{:.2f} → {:.2f} ms: {}", x.t.median_before_ms,
                      x.t.median_after_ms, x.t.query.substr(0, 80)));
  out.speedup = after > 0 ? before / after : 0;
  auto creates = r.kind == "create_index";
  if (rewrite) {
    out.verdict = !regressed.empty() ? "regression"
      : timed == 0                   ? "inconclusive"
      : out.speedup >= 1.1           ? "faster"
                                     : "no_gain";
    out.summary = timed == 0
      ? "the original and the rewrite could not be timed: "
        + served.front().t.error
      : fmt::format("the rewrite takes {:.2f} ms where the original takes "
                    "{:.2f} ms (medians of {} runs on the same {} parameter "
                    "set{})",
                    after, before, out.runs, served.front().texts.size(),
                    served.front().texts.size() == 1 ? "" : "s");
  } else if (!regressed.empty()) {
    out.verdict = "regression";
    out.summary = fmt::format("{} statement{} got slower: {}", regressed.size(),
                              regressed.size() == 1 ? "" : "s",
                              fmt::join(regressed, "; "));
  } else if (creates && timed == 0) {
    out.verdict = "inconclusive";
    out.summary = "none of the statements it serves could be timed in the "
                  "sandbox"
      + (served.empty() || served.front().t.error.empty()
           ? std::string{}
           : ": " + served.front().t.error);
  } else if (!creates
             && std::none_of(others.begin(), others.end(), [](auto& x) {
                  return x.t.error.empty() && !x.t.after_ms.empty();
                })) {
    out.verdict = "inconclusive";
    out.summary = "no hot statement on the table could be timed without the "
                  "index";
  } else if (!creates) {
    out.verdict = "safe";
    out.summary
      = fmt::format("without the index, none of {} hot statement{} got slower "
                    "(medians of {} runs)",
                    others.size(), others.size() == 1 ? "" : "s", out.runs);
  } else if (uses && out.speedup >= 1.1) {
    out.verdict = "faster";
    out.summary = fmt::format(
      "{:.1f}× faster: the statements it serves took {:.2f} ms and now take "
      "{:.2f} ms (medians of {} runs, {} parameter set{}); the plans use "
      "{}; no other hot statement got slower",
      out.speedup, before, after, out.runs, sampling.samples,
      sampling.samples == 1 ? "" : "s", r.index_name);
  } else {
    out.verdict = "no_gain";
    out.summary = uses
      ? fmt::format("the plans use {} but the statements are not measurably "
                    "faster ({:.2f} → {:.2f} ms)",
                    r.index_name, before, after)
      : fmt::format("PostgreSQL does not use {} for the statements it serves "
                    "on the copy ({:.2f} → {:.2f} ms)",
                    r.index_name, before, after);
  }
  if (writes_timed && quiet_triggers > 0)
    out.summary += fmt::format(
      "; the copy's {} user trigger{} are disabled, so write timings exclude "
      "trigger time",
      quiet_triggers, quiet_triggers == 1 ? "" : "s");
  for (auto& x : served)
    out.served.push_back(std::move(x.t));
  for (auto& x : others)
    out.others.push_back(std::move(x.t));
  out.tested_ms = now_ms();
  out.duration_ms = elapsed_ms(start);
  return out;
}

expected<rows_check>
compare_rewrite(const pg::conninfo& db, const std::string& original,
                const std::string& rewrite, const options& opts) {
  auto copy = open_copy(db, opts);
  if (!copy)
    return copy.error();
  rewrite_check_options check;
  check.samples = std::max(opts.samples, 1);
  check.statement_timeout = opts.statement_timeout;
  check.row_limit = opts.row_limit;
  return compare_rows(copy->session, copy->cat, original, rewrite, check);
}

} // namespace optischema::sandbox
