#pragma once

// What the rewrite check (rewrite_check.cpp) shares with the parameter
// samples (parameter_samples.cpp): a statement parsed once, its $n, where
// each $n's sample values come from, and splicing them into the text.
// Private to the advice library; the public interface is
// optischema/advice/parameter_samples.hpp.

#include "optischema/advice/parameter_samples.hpp"
#include "optischema/analysis/catalog.hpp"
#include "optischema/analysis/parse_tree.hpp"
#include "optischema/pg/session.hpp"
#include "optischema/util/error.hpp"

#include <rapidjson/document.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace optischema::parameter_samples_detail {

using node = rapidjson::Value;
using parse_tree::get;

// -- reading libpg_query's JSON -----------------------------------------------

/// `list` when it is an array, else nullptr.
const node* items(const node* list);

/// The sval of every String node of a list; nullopt when another node (an
/// A_Star) is among them.
std::optional<std::vector<std::string>> names(const node* list);

// -- one parsed statement -----------------------------------------------------

struct statement {
  /// The one statement, as PostgreSQL can parse it (see reparsable_sql).
  std::string text;
  /// Its parse node type: "SelectStmt", "UpdateStmt", …
  std::string type;
  rapidjson::Document tree;

  /// {"SelectStmt": {…}}: the statement node with its type wrapper.
  const node* wrapped() const {
    auto* stmts = items(get(&tree, "stmts"));
    if (stmts == nullptr || stmts->Empty())
      return nullptr;
    return get(&(*stmts)[0], "stmt");
  }
  /// The statement's fields.
  const node* body() const {
    return get(wrapped(), type.c_str());
  }
};

/// `sql` as one statement (through reparsable_sql), parsed; fails with
/// ec::parse_error, naming the text `who` ("the original").
expected<statement> parse_one(const std::string& sql, const char* who);

// -- parameters ---------------------------------------------------------------

struct param_ref {
  int number = 0;
  /// Byte offset of the `$n` token in the statement text.
  int location = 0;
};

/// Every $n token of the statement.
std::vector<param_ref> params_of(const statement& st);

/// The parameter numbers `refs` use.
std::set<int> numbers(const std::vector<param_ref>& refs);

// -- where sample values come from --------------------------------------------

struct param_source {
  enum class kind { none, column, limit, offset };
  kind what = kind::none;
  const table_info* table = nullptr;
  const column_info* column = nullptr;
  /// Position in an IN list: its members get different values.
  int offset = 0;
  /// Compared with `=` (col = $n): the planner's estimate for a generic
  /// $n is the average value's, which a skewed column makes misleading.
  bool equality = false;
};

/// Traces every parameter of a statement to what it is compared with: a
/// column (resolved through the FROM items of the enclosing SELECTs, the
/// innermost first, as PostgreSQL resolves names) or LIMIT/OFFSET.
/// `wrapped` is the statement node with its type wrapper.
std::map<int, param_source> param_sources(const catalog& cat,
                                          const node& wrapped);

// -- sample values ------------------------------------------------------------

struct sample_values {
  std::vector<std::string> values;
  /// For the steps: where they came from.
  std::string origin;
};

/// Sample values for a parameter, from what it is compared with, and where
/// they came from.
sample_values values_for(pg::session& s, const param_source& src,
                         const rewrite_check_options& opts);

/// One value per parameter number; nullopt is NULL.
using sample = std::map<int, std::optional<std::string>>;

/// `count` parameter sets: set i takes value i (plus the parameter's offset
/// in an IN list) of each list, so parameters on the same column (BETWEEN
/// $1 AND $2) get the same value and match rows. Duplicates are dropped.
std::vector<sample> build_samples(const std::set<int>& params,
                                  const std::map<int, param_source>& sources,
                                  const std::map<int, sample_values>& values,
                                  int count);

// -- splicing values into the text --------------------------------------------

/// `text` with each $n token replaced by `literals[n]`, right to left so
/// earlier offsets stay valid (as reparsable_sql does with casts).
std::string splice(std::string text, std::vector<param_ref> refs,
                   const std::map<int, std::string>& literals);

/// The typed literal ('value'::type, NULL::type) of each parameter of a
/// sample set, `types` in parameter order.
std::map<int, std::string>
literals_of(const sample& x, const std::vector<std::string>& types,
            const std::map<int, param_source>& sources);

} // namespace optischema::parameter_samples_detail
