#include "findings_internal.hpp"

#include "optischema/analysis/json.hpp"
#include "optischema/analysis/sql_quote.hpp"
#include "optischema/util/strings.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>
#include <string_view>
#include <tuple>

// Rules about the form of a filter no plain index serves: functions over a
// column, leading wildcards, casts, ORs across columns; from the plan's
// filters and from the statement analyser's notes.

namespace optischema::findings_detail {

// -- filter patterns: non-sargable, wildcard, cast, OR ------------------------

/// Function calls over a column used as an operand of a comparison:
/// "(lower(last_name) = 'x'::text)", "(date_trunc('day'::text, ts) = …)".
void find_function_calls(std::string_view f, const plan_node& n,
                         const table_info* t, std::vector<pattern_hit>& out) {
  for (size_t i = 0; i < f.size();) {
    auto c = f[i];
    if (c == '\'' || c == '"') {
      i = skip_quoted(f, i);
      continue;
    }
    if (!is_ident_start(c)
        || (i > 0 && (is_ident_char(f[i - 1]) || f[i - 1] == '.'))) {
      ++i;
      continue;
    }
    auto start = i;
    auto name = read_ident(f, i);
    if (i >= f.size() || f[i] != '(' || keyword(name))
      continue;
    auto close = matching_paren(f, i);
    if (close == std::string_view::npos)
      return;
    auto call = f.substr(start, close + 1 - start);
    auto cols = columns_in(f.substr(i + 1, close - i - 1), n, t);
    // An operand: an operator follows (after an optional cast) or precedes.
    // Casts of the result print as "lower(x)::t" or "(lower(x))::t".
    auto after = close + 1;
    for (;;) {
      auto paren = after < f.size() && f[after] == ')';
      auto cast_at = after + (paren ? 1 : 0);
      if (cast_at + 1 >= f.size() || f[cast_at] != ':' || f[cast_at + 1] != ':')
        break;
      after = cast_at + 2;
      read_type(f, after);
    }
    after = skip_spaces(f, after);
    auto before = start;
    while (before > 0 && f[before - 1] == ' ')
      --before;
    auto op_char = [](char x) {
      return x == '=' || x == '<' || x == '>' || x == '~' || x == '!';
    };
    bool operand = (after < f.size() && op_char(f[after]))
      || (before > 0 && op_char(f[before - 1])) || f.substr(after, 4) == "IS N"
      || f.substr(after, 4) == "IS T";
    if (!cols.empty() && operand)
      out.push_back({"non_sargable_function", std::string{call}, cols, {}});
    i = start + name.size() + 1; // also look inside the arguments
  }
}

/// Text casts of character columns are free (binary coercible): an index on
/// a varchar column serves "(col)::text = …".
bool harmless_cast(const std::string& column_type, const std::string& target) {
  auto ct = lower(column_type);
  if (ct == lower(target))
    return true;
  bool text_like_target = target == "text" || target == "character varying"
    || target == "varchar";
  bool text_like_column = ct == "text" || starts_with(ct, "character varying")
    || starts_with(ct, "varchar") || ct == "name";
  return text_like_target && text_like_column;
}

/// Column casts, printed "(col)::type": an index on col cannot serve them.
void find_casts(std::string_view f, const plan_node& n, const table_info* t,
                std::vector<pattern_hit>& out) {
  for (size_t i = 0; i + 2 < f.size(); ++i) {
    if (f[i] == '\'') {
      i = skip_quoted(f, i) - 1;
      continue;
    }
    if (f[i] != ')' || f[i + 1] != ':' || f[i + 2] != ':')
      continue;
    auto open = matching_open(f, i);
    if (open == std::string_view::npos)
      continue;
    auto inner = f.substr(open + 1, i - open - 1);
    auto refs = column_refs(inner);
    // Only a bare column inside the parentheses (not an expression).
    bool bare = refs.size() == 1
      && inner.find_first_of(" (") == std::string_view::npos;
    if (!bare || !belongs(refs[0], n, t))
      continue;
    size_t j = i + 3;
    auto target = read_type(f, j);
    std::string column_type;
    if (t != nullptr)
      if (auto* col = t->column(refs[0].name))
        column_type = col->type;
    // Without the column's type a cast to text may be a varchar's free
    // relabelling: only other targets are sure to be conversions.
    if (column_type.empty() ? target == "text" || target == "character varying"
                            : harmless_cast(column_type, target))
      continue;
    out.push_back({"implicit_cast",
                   refs[0].name + "::" + target,
                   {refs[0].name},
                   column_type});
  }
}

/// LIKE/ILIKE ("~~", "~~*") whose pattern starts with a wildcard.
void find_leading_wildcards(std::string_view f, const plan_node& n,
                            const table_info* t,
                            std::vector<pattern_hit>& out) {
  for (auto op : {std::string_view{" ~~ "}, std::string_view{" ~~* "}}) {
    for (auto pos = f.find(op); pos != std::string_view::npos;
         pos = f.find(op, pos + 1)) {
      auto rhs = f.substr(pos + op.size());
      if (rhs.size() < 2 || rhs[0] != '\'' || (rhs[1] != '%' && rhs[1] != '_'))
        continue;
      // The left operand runs back to the '(' that opens the predicate.
      int depth = 0;
      auto start = pos;
      while (start > 0) {
        auto c = f[start - 1];
        if (c == ')')
          ++depth;
        else if (c == '(' && depth-- == 0)
          break;
        --start;
      }
      auto lhs = f.substr(start, pos - start);
      auto cols = columns_in(lhs, n, t);
      if (cols.empty())
        continue;
      auto lit_end = skip_quoted(rhs, 0);
      auto detail = fmt::format("{}{}{}", lhs, op, rhs.substr(0, lit_end));
      out.push_back({"leading_wildcard_like", detail, cols, {}});
    }
  }
}

/// ORs whose arms test different columns: "((a = 1) OR (b = 2))". Looks at
/// every parenthesised group, so an OR inside an AND is found too.
void find_or_across(std::string_view f, const plan_node& n, const table_info* t,
                    std::vector<pattern_hit>& out) {
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] == '\'') {
      i = skip_quoted(f, i) - 1;
      continue;
    }
    if (f[i] != '(')
      continue;
    auto close = matching_paren(f, i);
    if (close == std::string_view::npos)
      return;
    auto arms = split_top(f.substr(i + 1, close - i - 1), " OR ");
    if (arms.size() < 2)
      continue;
    std::vector<std::string> all;
    std::set<std::vector<std::string>> distinct_sets;
    for (auto arm : arms) {
      auto cols = columns_in(arm, n, t);
      std::sort(cols.begin(), cols.end());
      distinct_sets.insert(cols);
      for (auto& col : columns_in(arm, n, t))
        add_unique(all, col);
    }
    if (distinct_sets.size() > 1 && all.size() > 1) {
      out.push_back({"or_across_columns", join(all, ", "), all, {}});
      return; // one per filter: the outermost OR is the one to rewrite
    }
  }
}

std::vector<pattern_hit> filter_patterns(const plan_node& n,
                                         const table_info* t) {
  std::vector<pattern_hit> out;
  if (n.filter.empty())
    return out;
  find_function_calls(n.filter, n, t, out);
  find_casts(n.filter, n, t, out);
  find_leading_wildcards(n.filter, n, t, out);
  find_or_across(n.filter, n, t, out);
  return out;
}

std::optional<parsed_note> parse_note(const std::string& note) {
  static const std::map<std::string, std::string> kinds = {
    {"non_sargable", "non_sargable_function"},
    {"non_sargable_function", "non_sargable_function"},
    {"leading_wildcard", "leading_wildcard_like"},
    {"leading_wildcard_like", "leading_wildcard_like"},
    {"implicit_cast", "implicit_cast"},
    {"or_across_columns", "or_across_columns"},
  };
  auto colon = note.find(": ");
  if (colon == std::string::npos)
    return std::nullopt;
  auto kind = kinds.find(note.substr(0, colon));
  if (kind == kinds.end())
    return std::nullopt;
  parsed_note out{kind->second, note.substr(colon + 2), {}, {}};
  if (out.kind == "or_across_columns") {
    // The first table names the finding; the columns of every table count.
    for (auto part : split_top(out.detail, "; ")) {
      auto of = part.rfind(" of ");
      if (of == std::string_view::npos)
        continue;
      if (out.relation.empty())
        out.relation = std::string{part.substr(of + 4)};
      for (auto col : split_top(part.substr(0, of), ", "))
        add_unique(out.columns, std::string{col});
    }
    return out;
  }
  // The relation comes last: a LIKE pattern may itself contain " on ".
  auto at = out.detail.rfind(" on ");
  if (at != std::string::npos) {
    out.relation = out.detail.substr(at + 4);
    out.detail = out.detail.substr(0, at);
  }
  return out;
}

/// Columns a note is about: "id::text", "title ~~* '%x%'",
/// "lower(last_name)" (the analysis's use of that expression names it).
std::vector<std::string> note_columns(const parsed_note& x,
                                      const statement_analysis& stmt) {
  if (x.kind == "or_across_columns")
    return x.columns;
  std::vector<std::string> out;
  for (auto& u : stmt.uses)
    if (!u.expression.empty() && u.expression == x.detail)
      add_unique(out, u.column);
  if (out.empty())
    for (auto& r : column_refs(x.detail))
      add_unique(out, r.name);
  return out;
}

std::string expression_index_key(const std::string& expr) {
  // A plain lower-case function call can stand alone as an index element;
  // anything else (EXTRACT(…), casts) needs its own parentheses.
  bool call = !expr.empty() && std::islower(static_cast<unsigned char>(expr[0]))
    && expr.back() == ')';
  return call ? expr : "(" + expr + ")";
}

void describe_pattern(const context& c, finding& f, const std::string& detail,
                      const std::string& column_type) {
  auto rel = quoted_relation(f.relation);
  auto cols = join(f.columns, ", ");
  if (f.kind == "non_sargable_function") {
    f.title = fmt::format("Function over a column in a filter: {}", detail);
    f.evidence = fmt::format(
      "The predicate applies {} to the column, so a plain index on {} of {} "
      "cannot serve it: every row is read and the function evaluated.",
      detail, cols, f.relation);
    // An expression holding a parameter ($n) differs per call: no index
    // can be built on it, only the rewrite helps.
    bool parameterised = detail.find('$') != std::string::npos;
    f.suggestion = parameterised
      ? fmt::format("Rewrite the predicate to compare the bare column: the "
                    "expression {} takes a parameter, so no expression "
                    "index can match it (turn date_trunc()/::date into a "
                    "range on {}).",
                    detail, cols)
      : fmt::format(
        "Create an expression index matching the predicate: CREATE INDEX "
        "ON {} ({}); (the expression must be IMMUTABLE), or rewrite the "
        "predicate to compare the bare column (store the normalised value, "
        "or turn date_trunc()/::date into a range on the column).",
        rel, expression_index_key(detail));
  } else if (f.kind == "leading_wildcard_like") {
    f.title = fmt::format("LIKE pattern starts with a wildcard: {}", detail);
    f.evidence = fmt::format(
      "A btree index only serves LIKE patterns with a literal prefix; {} "
      "makes PostgreSQL read every row of {}.",
      detail, f.relation);
    std::vector<std::string> keys;
    for (auto& col : f.columns)
      keys.push_back(quote_ident(col) + " gin_trgm_ops");
    f.suggestion = fmt::format(
      "A trigram index serves LIKE/ILIKE with any wildcard: CREATE INDEX ON {} "
      "USING gin ({});",
      rel, join(keys, ", "));
    if (!c.cat.pg_trgm_installed)
      f.suggestion += " It needs the pg_trgm extension first: CREATE EXTENSION "
                      "pg_trgm;";
    if (!c.cat.pg_trgm_installed && !c.cat.pg_trgm_available)
      f.suggestion += " (shipped with PostgreSQL's contrib modules; install "
                      "them on the server if CREATE EXTENSION fails).";
  } else if (f.kind == "implicit_cast") {
    f.title = fmt::format("Column cast in a filter: {}", detail);
    f.evidence = fmt::format(
      "The column is converted ({}) before the comparison{}, so an index on "
      "{} of {} cannot be used.",
      detail,
      column_type.empty() ? std::string{}
                          : fmt::format(" (declared {})", column_type),
      cols, f.relation);
    f.suggestion = fmt::format(
      "Compare with a value of the column's own type{} (cast the literal or "
      "parameter, not the column), or fix the type the application binds.",
      column_type.empty() ? std::string{} : " (" + column_type + ")");
  } else if (f.kind == "or_across_columns") {
    // Notes list the columns per table ("a of s.t; b of s.u"); the plan's
    // filter is about the one table scanned.
    bool noted = detail.find(" of ") != std::string::npos;
    bool across_tables = detail.find("; ") != std::string::npos;
    auto what = noted ? detail : cols + " of " + f.relation;
    f.title = fmt::format("OR across different columns: {}", what);
    f.evidence = fmt::format(
      "The arms of an OR test different columns ({}): no single btree index "
      "serves the whole condition, so it is checked against every row.",
      what);
    if (across_tables) {
      f.suggestion = "Rewrite as a UNION of one query per arm: each arm can "
                     "then use an index on its own table's column, while no "
                     "index can serve an OR that spans tables.";
    } else {
      std::vector<std::string> ddl;
      for (auto& col : f.columns)
        ddl.push_back(
          fmt::format("CREATE INDEX ON {} ({})", rel, quote_ident(col)));
      f.suggestion = fmt::format(
        "Give each column its own index ({}) so PostgreSQL can combine them "
        "with a BitmapOr, or rewrite as a UNION of one query per column.",
        join(ddl, "; "));
    }
  }
}

/// Patterns matter on big reads: medium on a sequential scan of a large
/// table, low otherwise (the statement's shape alone).
severity pattern_severity(const plan_node* n, std::optional<double> rows) {
  if (n != nullptr && n->node_type == "Seq Scan" && rows
      && *rows >= large_table_rows)
    return severity::medium;
  return severity::low;
}

void pattern_findings(context& c) {
  for (auto* n : c.nodes) {
    if (!is_scan(*n))
      continue;
    auto* t = table_of(c, *n);
    auto rows = table_rows(c, *n);
    if (rows && *rows < tiny_table_rows)
      continue;
    // One finding per kind and node: several hits are listed together.
    std::map<std::string, std::vector<pattern_hit>> by_kind;
    for (auto& hit : filter_patterns(*n, t))
      by_kind[hit.kind].push_back(hit);
    for (auto& [kind, hits] : by_kind) {
      auto f = make_finding(c, kind, pattern_severity(n, rows), n,
                            relation_of(c, *n));
      std::vector<std::string> details;
      for (auto& h : hits) {
        add_unique(details, h.detail);
        for (auto& col : h.columns)
          add_unique(f.columns, col);
      }
      describe_pattern(c, f, join(details, "; "), hits.front().column_type);
      f.evidence += fmt::format(" Node {} ({} on {}) Filter: {}", n->id,
                                n->node_type, f.relation, n->filter);
      add(c.out, std::move(f));
    }
  }
}

/// The first scan of a relation, preferring one with a filter.
const plan_node* scan_of(const context& c, const std::string& relation) {
  const plan_node* found = nullptr;
  for (auto* n : c.nodes) {
    if (!is_scan(*n))
      continue;
    auto rel = relation_of(c, *n);
    if (rel != relation && n->relation != relation)
      continue;
    if (!n->filter.empty())
      return n;
    if (found == nullptr)
      found = n;
  }
  return found;
}

const table_info* find_qualified(const catalog& cat,
                                 const std::string& relation) {
  auto dot = relation.find('.');
  if (dot == std::string::npos)
    return cat.find("", relation);
  return cat.find(relation.substr(0, dot), relation.substr(dot + 1));
}

std::string without_spaces(std::string_view x) {
  std::string out;
  for (auto c : x)
    if (c != ' ')
      out += c;
  return out;
}

/// Does an index or the plan already serve what a note complains about?
/// The analysis sees the SQL only: an expression index, a trigram index or
/// a BitmapOr in the plan answers its concern.
bool note_served(const context& c, const parsed_note& x,
                 const std::vector<std::string>& columns) {
  auto* t = find_qualified(c.cat, x.relation);
  auto expr = without_spaces(x.detail);
  if (t != nullptr)
    for (auto& ix : t->indexes) {
      if (!ix.valid || ix.keys.empty())
        continue;
      auto key = without_spaces(strip_parens(ix.keys.front()));
      if ((x.kind == "non_sargable_function" || x.kind == "implicit_cast")
          && key == expr)
        return true;
      bool trgm = std::any_of(ix.opclasses.begin(), ix.opclasses.end(),
                              [](const std::string& o) {
                                return o.find("trgm") != std::string::npos;
                              });
      if (x.kind == "leading_wildcard_like" && trgm && !columns.empty()
          && key == columns.front())
        return true;
    }
  for (size_t pos = 0; pos < c.nodes.size(); ++pos) {
    auto& n = *c.nodes[pos];
    if (x.kind == "or_across_columns" && n.node_type == "BitmapOr") {
      auto parent = c.parent[pos];
      if (parent >= 0
          && relation_of(c, *c.nodes[static_cast<size_t>(parent)])
            == x.relation)
        return true;
    }
    if (x.kind == "non_sargable_function"
        && (without_spaces(n.index_cond).find(expr) != std::string::npos
            || without_spaces(n.recheck_cond).find(expr) != std::string::npos))
      return true;
  }
  return false;
}

/// A cast is reported as implicit_cast; the analysis also notes it as
/// non_sargable (an expression over the column), which would say the same
/// twice.
bool also_noted_as_cast(const statement_analysis& stmt, const parsed_note& x) {
  if (x.kind != "non_sargable_function")
    return false;
  auto cast = "implicit_cast: " + x.detail + " on " + x.relation;
  return std::find(stmt.notes.begin(), stmt.notes.end(), cast)
    != stmt.notes.end();
}

/// Notes of the statement analysis: the same patterns, found in the parse
/// tree (so they exist without a plan and for predicates the plan shows
/// elsewhere than a scan's Filter, e.g. an OR across tables in a join).
void note_findings(context& c) {
  for (auto& note : c.stmt.notes) {
    auto x = parse_note(note);
    if (!x || also_noted_as_cast(c.stmt, *x))
      continue;
    auto columns = note_columns(*x, c.stmt);
    if (note_served(c, *x, columns))
      continue;
    auto* n = x->relation.empty() ? nullptr : scan_of(c, x->relation);
    auto* t = n != nullptr ? table_of(c, *n)
                           : find_qualified(c.cat, x->relation);
    std::optional<double> rows;
    if (n != nullptr)
      rows = table_rows(c, *n);
    else if (t != nullptr)
      rows = t->rows();
    if (rows && *rows < tiny_table_rows)
      continue;
    auto rel = n != nullptr ? relation_of(c, *n) : x->relation;
    auto f = make_finding(c, x->kind, pattern_severity(n, rows), n, rel);
    f.columns = columns;
    std::string column_type;
    if (t != nullptr && !f.columns.empty())
      if (auto* col = t->column(f.columns.front()))
        column_type = col->type;
    describe_pattern(c, f, x->detail, column_type);
    f.evidence += " (from the statement's parse tree)";
    add(c.out, std::move(f));
  }
}

} // namespace optischema::findings_detail
