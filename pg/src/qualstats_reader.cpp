#include "optischema/pg/qualstats_reader.hpp"

#include "session_impl.hpp"

namespace optischema::pg {

expected<std::vector<observed_constant>> read_observed_constants(session& s) {
  return guarded<std::vector<observed_constant>>(
    s, "reading pg_qualstats", [](pqxx::connection& c) {
      pqxx::nontransaction tx{c};
      std::vector<observed_constant> out;
      auto schema = extension_schema(tx, "pg_qualstats");
      if (!schema)
        return out;
      // Constants on the right of `=` (lrelid set, rrelid not: a column
      // against a constant, not a join), the operator resolved by name.
      auto rows = tx.exec(
        own_marker
        + fmt::format(
          "SELECT q.queryid, n.nspname, c.relname, a.attname, q.constvalue, "
          "sum(q.occurences)::bigint FROM {}.pg_qualstats q "
          "JOIN pg_class c ON c.oid = q.lrelid "
          "JOIN pg_namespace n ON n.oid = c.relnamespace "
          "JOIN pg_attribute a ON a.attrelid = q.lrelid AND a.attnum = "
          "q.lattnum "
          "JOIN pg_operator o ON o.oid = q.opno "
          "WHERE q.rrelid IS NULL AND q.constvalue IS NOT NULL "
          "AND q.queryid IS NOT NULL AND o.oprname = '=' "
          "GROUP BY 1, 2, 3, 4, 5 ORDER BY 6 DESC LIMIT 20000",
          *schema));
      out.reserve(rows.size());
      for (auto row : rows) {
        observed_constant x;
        x.queryid = row[0].as<int64_t>();
        x.schema = row[1].as<std::string>();
        x.table = row[2].as<std::string>();
        x.column = row[3].as<std::string>();
        x.constvalue = row[4].as<std::string>();
        x.occurrences = row[5].as<int64_t>();
        out.push_back(std::move(x));
      }
      return out;
    });
}

} // namespace optischema::pg
