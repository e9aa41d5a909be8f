#include "optischema/pg/catalog_reader.hpp"

#include "session_impl.hpp"

#include <fmt/format.h>

#include <map>

namespace optischema::pg {

namespace {

/// Splits a PostgreSQL array literal ({a,"b c",NULL}) into its elements.
std::vector<std::string> parse_array(const std::string& text) {
  std::vector<std::string> out;
  if (text.size() < 2 || text.front() != '{')
    return out;
  std::string cur;
  bool quoted = false;
  bool in_quotes = false;
  for (size_t i = 1; i + 1 < text.size(); ++i) {
    char c = text[i];
    if (in_quotes) {
      if (c == '\\' && i + 2 < text.size())
        cur += text[++i];
      else if (c == '"')
        in_quotes = false;
      else
        cur += c;
    } else if (c == '"') {
      in_quotes = quoted = true;
    } else if (c == ',') {
      out.push_back(cur);
      cur.clear();
      quoted = false;
    } else {
      cur += c;
    }
  }
  if (!cur.empty() || quoted || text.size() > 2)
    out.push_back(cur);
  return out;
}

double to_double(const pqxx::field& f) {
  return f.is_null() ? 0.0 : f.as<double>();
}
int64_t to_i64(const pqxx::field& f) {
  return f.is_null() ? 0 : f.as<int64_t>();
}
std::string to_str(const pqxx::field& f) {
  return f.is_null() ? std::string{} : std::string{f.c_str()};
}

constexpr const char* user_relations
  = "n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'";

} // namespace

expected<catalog> read_catalog(session& s) {
  auto facts = s.connect();
  if (!facts)
    return facts.error();
  auto& impl = s.get_impl();
  const char* step = "reading the catalog";
  try {
    pqxx::nontransaction tx{*impl.conn};
    catalog cat;
    cat.server_version = facts->version_num;
    step = "reading settings";
    auto settings = tx.exec(
      own_marker
      + "SELECT current_setting('work_mem'), "
        "(SELECT setting::bigint FROM pg_settings WHERE name = 'work_mem'), "
        "array_to_string(current_schemas(false), ','), "
        "coalesce((SELECT (extract(epoch FROM stats_reset) * 1000)::bigint "
        "FROM pg_stat_database WHERE datname = current_database()), 0), "
        "EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'hypopg'), "
        "EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'), "
        "EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = "
        "'pg_trgm')");
    cat.work_mem_kb = to_i64(settings[0][1]);
    cat.search_path.clear();
    for (auto& x : parse_array("{" + to_str(settings[0][2]) + "}"))
      if (!x.empty())
        cat.search_path.push_back(x);
    cat.stats_reset_ms = to_i64(settings[0][3]);
    cat.hypopg_installed = settings[0][4].as<bool>();
    cat.pg_trgm_installed = settings[0][5].as<bool>();
    cat.pg_trgm_available = settings[0][6].as<bool>();
    // The planner's cost settings, for the cost model of indexes hypopg
    // cannot simulate (analysis/index_model.hpp).
    step = "reading planner cost settings";
    for (auto row : tx.exec(
           own_marker
           + "SELECT name, setting::float8 FROM pg_settings WHERE name IN "
             "('seq_page_cost', 'random_page_cost', 'cpu_tuple_cost', "
             "'cpu_index_tuple_cost', 'cpu_operator_cost', "
             "'effective_cache_size')")) {
      auto name = to_str(row[0]);
      auto value = row[1].as<double>();
      auto& pc = cat.costs;
      (name == "seq_page_cost"          ? pc.seq_page_cost
       : name == "random_page_cost"     ? pc.random_page_cost
       : name == "cpu_tuple_cost"       ? pc.cpu_tuple_cost
       : name == "cpu_index_tuple_cost" ? pc.cpu_index_tuple_cost
       : name == "cpu_operator_cost"    ? pc.cpu_operator_cost
                                        : pc.effective_cache_pages)
        = value;
    }
    step = "reading tables";
    std::map<uint32_t, size_t> by_oid;
    for (
      auto row : tx.exec(
        own_marker
        + fmt::format(
          "SELECT c.oid, n.nspname, c.relname, c.relkind, c.reltuples, "
          "c.relpages, CASE WHEN c.relkind IN ('r','m','p') THEN "
          "pg_table_size(c.oid) ELSE 0 END, "
          "s.seq_scan, s.idx_scan, s.n_tup_ins, s.n_tup_upd, s.n_tup_hot_upd, "
          "s.n_tup_del, s.n_live_tup, s.n_mod_since_analyze, "
          "(extract(epoch FROM greatest(s.last_analyze, s.last_autoanalyze)) "
          "* 1000)::bigint, "
          "CASE WHEN c.relkind IN ('v','m') THEN pg_get_viewdef(c.oid) END, "
          "(SELECT pn.nspname || '.' || pc.relname FROM pg_inherits i "
          "JOIN pg_class pc ON pc.oid = i.inhparent JOIN pg_namespace pn ON "
          "pn.oid = pc.relnamespace WHERE i.inhrelid = c.oid LIMIT 1) "
          "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
          "LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid "
          "WHERE c.relkind IN ('r','p','v','m','f') AND {} ORDER BY 2, 3",
          user_relations))) {
      table_info t;
      t.oid = row[0].as<uint32_t>();
      t.schema = to_str(row[1]);
      t.name = to_str(row[2]);
      t.kind = to_str(row[3]).empty() ? 'r' : to_str(row[3])[0];
      t.reltuples = to_double(row[4]);
      t.relpages = to_i64(row[5]);
      t.size_bytes = to_i64(row[6]);
      t.seq_scan = to_i64(row[7]);
      t.idx_scan = to_i64(row[8]);
      t.n_tup_ins = to_i64(row[9]);
      t.n_tup_upd = to_i64(row[10]);
      t.n_tup_hot_upd = to_i64(row[11]);
      t.n_tup_del = to_i64(row[12]);
      t.n_live_tup = to_i64(row[13]);
      t.n_mod_since_analyze = to_i64(row[14]);
      t.last_analyzed_ms = to_i64(row[15]);
      t.view_definition = to_str(row[16]);
      t.parent = to_str(row[17]);
      by_oid[t.oid] = cat.tables.size();
      cat.tables.push_back(std::move(t));
    }
    step = "reading columns and pg_stats";
    for (
      auto row : tx.exec(
        own_marker
        + fmt::format(
          "SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), "
          "a.attnum, a.attnotnull, st.n_distinct, st.null_frac, st.avg_width, "
          "st.correlation, st.most_common_vals::text, "
          "st.most_common_freqs::text, st.attname IS NOT NULL, "
          "CASE WHEN st.most_common_vals IS NOT NULL "
          "THEN st.histogram_bounds::text END "
          "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
          "JOIN pg_namespace n ON n.oid = c.relnamespace "
          "LEFT JOIN pg_stats st ON st.schemaname = n.nspname AND "
          "st.tablename = c.relname AND st.attname = a.attname AND NOT "
          "st.inherited "
          "WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN "
          "('r','p','v','m','f') AND {} ORDER BY a.attrelid, a.attnum",
          user_relations))) {
      auto i = by_oid.find(row[0].as<uint32_t>());
      if (i == by_oid.end())
        continue;
      column_info col;
      col.name = to_str(row[1]);
      col.type = to_str(row[2]);
      col.attnum = row[3].as<int>();
      col.not_null = row[4].as<bool>();
      col.has_stats = row[11].as<bool>();
      col.n_distinct = to_double(row[5]);
      col.null_frac = to_double(row[6]);
      col.avg_width = static_cast<int>(to_i64(row[7]));
      col.correlation = to_double(row[8]);
      col.most_common_vals = parse_array(to_str(row[9]));
      for (auto& f : parse_array(to_str(row[10])))
        col.most_common_freqs.push_back(std::stod(f));
      if (auto bounds = parse_array(to_str(row[12])); !bounds.empty())
        col.rare_value = bounds[bounds.size() / 2];
      cat.tables[i->second].columns.push_back(std::move(col));
    }
    step = "reading indexes";
    for (
      auto row : tx.exec(
        own_marker
        + fmt::format(
          "SELECT i.indrelid, i.indexrelid, n.nspname, ic.relname, am.amname, "
          "i.indisunique, i.indisprimary, i.indisvalid, i.indisready, "
          "EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = "
          "i.indexrelid AND con.contype IN ('p','u','x')), "
          "pg_relation_size(i.indexrelid), coalesce(s.idx_scan, 0), "
          "pg_get_indexdef(i.indexrelid), pg_get_expr(i.indpred, i.indrelid), "
          "i.indnkeyatts, i.indnatts, "
          "ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) FROM "
          "generate_series(1, i.indnatts) k ORDER BY k)::text, "
          "i.indoption::text, "
          "ARRAY(SELECT CASE WHEN o.opcdefault THEN '' ELSE o.opcname END "
          "FROM unnest(i.indclass) WITH ORDINALITY u(oid, ord) JOIN "
          "pg_opclass o ON o.oid = u.oid ORDER BY u.ord)::text "
          "FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
          "JOIN pg_class c ON c.oid = i.indrelid "
          "JOIN pg_namespace n ON n.oid = c.relnamespace "
          "JOIN pg_am am ON am.oid = ic.relam "
          "LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid "
          "WHERE {} ORDER BY i.indrelid, ic.relname",
          user_relations))) {
      auto t = by_oid.find(row[0].as<uint32_t>());
      if (t == by_oid.end())
        continue;
      index_info ix;
      ix.oid = row[1].as<uint32_t>();
      ix.schema = to_str(row[2]);
      ix.name = to_str(row[3]);
      ix.am = to_str(row[4]);
      ix.unique = row[5].as<bool>();
      ix.primary = row[6].as<bool>();
      ix.valid = row[7].as<bool>();
      ix.ready = row[8].as<bool>();
      ix.constraint_backed = row[9].as<bool>();
      ix.size_bytes = to_i64(row[10]);
      ix.scans = to_i64(row[11]);
      ix.definition = to_str(row[12]);
      ix.predicate = to_str(row[13]);
      auto nkey = row[14].as<int>();
      auto cols = parse_array(to_str(row[16]));
      // indoption is an int2vector ("0 3"): bit 0 DESC, bit 1 NULLS FIRST.
      std::vector<int> options;
      std::string opt_text = to_str(row[17]);
      size_t pos = 0;
      while (pos < opt_text.size()) {
        auto next = opt_text.find(' ', pos);
        options.push_back(std::stoi(opt_text.substr(pos, next - pos)));
        if (next == std::string::npos)
          break;
        pos = next + 1;
      }
      auto opclasses = parse_array(to_str(row[18]));
      for (int k = 0; k < static_cast<int>(cols.size()); ++k) {
        if (k < nkey) {
          auto key = cols[static_cast<size_t>(k)];
          auto opt = k < static_cast<int>(options.size())
            ? options[static_cast<size_t>(k)]
            : 0;
          // indoption bit 0: DESC; bit 1: NULLS FIRST. Spell out only what
          // differs from the direction's default, as pg_get_indexdef does.
          if (ix.am == "btree") {
            auto desc = (opt & 1) != 0;
            auto nulls_first = (opt & 2) != 0;
            if (desc)
              key += " DESC";
            if (desc && !nulls_first)
              key += " NULLS LAST";
            if (!desc && nulls_first)
              key += " NULLS FIRST";
          }
          ix.keys.push_back(key);
          ix.opclasses.push_back(k < static_cast<int>(opclasses.size())
                                   ? opclasses[static_cast<size_t>(k)]
                                   : "");
        } else {
          ix.include.push_back(cols[static_cast<size_t>(k)]);
        }
      }
      cat.tables[t->second].indexes.push_back(std::move(ix));
    }
    step = "reading foreign keys";
    for (auto row : tx.exec(
           own_marker
           + fmt::format(
             "SELECT con.conrelid, con.conname, "
             "ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY "
             "k(attnum, ord) JOIN pg_attribute a ON a.attrelid = con.conrelid "
             "AND a.attnum = k.attnum ORDER BY k.ord)::text, "
             "rn.nspname, rc.relname, "
             "ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY "
             "k(attnum, ord) JOIN pg_attribute a ON a.attrelid = con.confrelid "
             "AND a.attnum = k.attnum ORDER BY k.ord)::text "
             "FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid "
             "JOIN pg_namespace n ON n.oid = c.relnamespace "
             "JOIN pg_class rc ON rc.oid = con.confrelid "
             "JOIN pg_namespace rn ON rn.oid = rc.relnamespace "
             "WHERE con.contype = 'f' AND {} ORDER BY 1, 2",
             user_relations))) {
      auto t = by_oid.find(row[0].as<uint32_t>());
      if (t == by_oid.end())
        continue;
      foreign_key_info fk;
      fk.name = to_str(row[1]);
      fk.columns = parse_array(to_str(row[2]));
      fk.ref_schema = to_str(row[3]);
      fk.ref_table = to_str(row[4]);
      fk.ref_columns = parse_array(to_str(row[5]));
      cat.tables[t->second].foreign_keys.push_back(std::move(fk));
    }
    return cat;
  } catch (const pqxx::broken_connection& e) {
    s.disconnect();
    return classify(e, step, s.target().display);
  } catch (const std::exception& e) {
    return classify(e, step, s.target().display);
  }
}

} // namespace optischema::pg
