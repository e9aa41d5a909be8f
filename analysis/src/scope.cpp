#include "scope.hpp"

#include <algorithm>

namespace optischema::statement_detail {

std::pair<found, std::optional<resolved>> lookup(const range_entry& e,
                                                 const std::string& col) {
  if (e.opaque)
    return {found::maybe, std::nullopt};
  if (e.derived) {
    for (auto& o : e.outputs)
      if (o.name == col)
        return {found::yes,
                o.source ? std::optional<resolved>{resolved{*o.source, e.id}}
                         : std::nullopt};
    return {found::no, std::nullopt};
  }
  if (e.table != nullptr && e.table->column(col) != nullptr)
    return {found::yes, resolved{{e.table, col}, e.id}};
  return {found::no, std::nullopt};
}

std::vector<output_column> entry_columns(const range_entry& e) {
  if (e.derived)
    return e.outputs;
  std::vector<output_column> out;
  if (e.table == nullptr)
    return out;
  auto cols = e.table->columns;
  std::stable_sort(cols.begin(), cols.end(),
                   [](auto& x, auto& y) { return x.attnum < y.attnum; });
  for (auto& c : cols)
    out.push_back({c.name, base_column{e.table, c.name}});
  return out;
}

void rename(range_entry& e, const std::vector<std::string>& colnames) {
  if (colnames.empty())
    return;
  auto cols = entry_columns(e);
  for (size_t i = 0; i < colnames.size() && i < cols.size(); ++i)
    cols[i].name = colnames[i];
  e.outputs = std::move(cols);
  e.derived = true;
}

} // namespace optischema::statement_detail
