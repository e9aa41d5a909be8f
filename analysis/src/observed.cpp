#include "optischema/analysis/observed.hpp"

#include <algorithm>
#include <cctype>

namespace optischema {

namespace {

std::string column_key(std::string_view schema, std::string_view table,
                       std::string_view column) {
  std::string out{schema};
  out += '.';
  out += table;
  out += '.';
  out += column;
  return out;
}

// A type name after `::`: letters, digits, spaces, underscores, dots,
// parentheses and commas ("timestamp with time zone", "numeric(10,2)",
// "character varying").
bool type_name(std::string_view x) {
  return !x.empty() && std::all_of(x.begin(), x.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) || c == ' ' || c == '_' || c == '.' || c == '('
      || c == ')' || c == ',' || c == '"' || c == '[' || c == ']';
  });
}

} // namespace

std::optional<std::string> constant_value(std::string_view x) {
  std::string value;
  size_t i = 0;
  if (!x.empty() && x[0] == '\'') {
    // A string literal: '' is a quote; it must end before the cast.
    bool closed = false;
    for (i = 1; i < x.size(); ++i) {
      if (x[i] != '\'') {
        value += x[i];
        continue;
      }
      if (i + 1 < x.size() && x[i + 1] == '\'') {
        value += '\'';
        ++i;
        continue;
      }
      closed = true;
      ++i;
      break;
    }
    if (!closed)
      return std::nullopt;
  } else if (x == "true" || x == "false") {
    return std::string{x}; // a boolean constant
  } else {
    // A number, as pg_qualstats prints integers and numerics.
    if (i < x.size() && (x[i] == '-' || x[i] == '+'))
      value += x[i++];
    while (i < x.size()
           && (std::isdigit(static_cast<unsigned char>(x[i])) || x[i] == '.'
               || x[i] == 'e' || x[i] == 'E'))
      value += x[i++];
    if (value.empty() || value == "-" || value == "+"
        || !std::isdigit(static_cast<unsigned char>(value.back())))
      return std::nullopt;
  }
  auto rest = x.substr(i);
  if (rest.empty())
    return value;
  if (!rest.starts_with("::") || !type_name(rest.substr(2)))
    return std::nullopt;
  return value;
}

std::vector<observed_value>
observed_values::dominant(const std::string& schema, const std::string& table,
                          const std::string& column, size_t max_values,
                          double min_share, int64_t min_seen) const {
  auto key = column_key(schema, table, column);
  auto i = by_column.find(key);
  auto n = seen.find(key);
  if (i == by_column.end() || n == seen.end() || n->second < min_seen)
    return {};
  std::vector<observed_value> out;
  double sum = 0;
  for (auto& v : i->second) {
    if (out.size() == max_values)
      break;
    out.push_back(v);
    sum += v.share;
    if (sum >= min_share)
      break;
  }
  if (sum < min_share || sum <= 0)
    return {};
  for (auto& v : out)
    v.share /= sum;
  return out;
}

std::optional<std::string>
observed_values::most_common(const std::string& schema,
                             const std::string& table,
                             const std::string& column) const {
  auto i = by_column.find(column_key(schema, table, column));
  if (i == by_column.end() || i->second.empty())
    return std::nullopt;
  return i->second.front().value;
}

observed_values values_of(const std::vector<observed_constant>& all,
                          const std::vector<int64_t>& queryids) {
  std::map<std::string, std::map<std::string, int64_t>> counts;
  observed_values out;
  for (auto& c : all) {
    if (c.occurrences <= 0
        || std::find(queryids.begin(), queryids.end(), c.queryid)
          == queryids.end())
      continue;
    auto v = constant_value(c.constvalue);
    auto key = column_key(c.schema, c.table, c.column);
    // A constant cut short still counts as a comparison: the shares of the
    // values that could be read must not be inflated by leaving it out.
    out.seen[key] += c.occurrences;
    if (v)
      counts[key][*v] += c.occurrences;
  }
  for (auto& [key, values] : counts) {
    auto total = static_cast<double>(out.seen[key]);
    auto& list = out.by_column[key];
    for (auto& [value, n] : values)
      list.push_back({value, static_cast<double>(n) / total});
    std::stable_sort(list.begin(), list.end(),
                     [](auto& x, auto& y) { return x.share > y.share; });
  }
  return out;
}

} // namespace optischema
