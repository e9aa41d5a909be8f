#include "optischema/analysis/catalog.hpp"

#include <algorithm>

namespace optischema {

double column_info::distinct_values(double rows) const {
  if (n_distinct > 0)
    return n_distinct;
  if (n_distinct < 0)
    return -n_distinct * rows;
  return rows; // unknown: assume unique, the optimistic planner default
}

const column_info* table_info::column(const std::string& col) const {
  auto i = std::find_if(columns.begin(), columns.end(),
                        [&](const column_info& c) { return c.name == col; });
  return i != columns.end() ? &*i : nullptr;
}

double table_info::rows() const {
  // reltuples is -1 until the first VACUUM or ANALYZE (PG 14+).
  return reltuples >= 0 ? reltuples
                        : static_cast<double>(std::max<int64_t>(n_live_tup, 0));
}

const table_info* catalog::find(const std::string& schema,
                                const std::string& name) const {
  auto lookup = [&](const std::string& s) -> const table_info* {
    auto i = std::find_if(tables.begin(), tables.end(), [&](const table_info& t) {
      return t.schema == s && t.name == name;
    });
    return i != tables.end() ? &*i : nullptr;
  };
  if (!schema.empty())
    return lookup(schema);
  for (auto& s : search_path)
    if (auto* t = lookup(s))
      return t;
  return lookup("pg_catalog");
}

} // namespace optischema
