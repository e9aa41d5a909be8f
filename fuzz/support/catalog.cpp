#include "catalog.hpp"

#include <initializer_list>
#include <string>
#include <utility>

namespace optischema::fuzz {

namespace {

struct col {
  const char* name;
  const char* type;
  double n_distinct = 0; ///< 0: no statistics
};

table_info table(std::string schema, std::string name, double rows,
                 std::initializer_list<col> cols, char kind = 'r') {
  table_info t;
  t.oid = static_cast<uint32_t>(16384 + rows);
  t.schema = std::move(schema);
  t.name = std::move(name);
  t.kind = kind;
  t.reltuples = rows;
  t.relpages = static_cast<int64_t>(rows / 50);
  t.size_bytes = t.relpages * 8192;
  t.n_live_tup = static_cast<int64_t>(rows);
  t.n_tup_ins = static_cast<int64_t>(rows);
  t.n_tup_upd = static_cast<int64_t>(rows / 4);
  t.last_analyzed_ms = 1'700'000'000'000;
  int attnum = 0;
  for (auto& c : cols) {
    column_info ci;
    ci.name = c.name;
    ci.type = c.type;
    ci.attnum = ++attnum;
    ci.has_stats = c.n_distinct != 0;
    ci.n_distinct = c.n_distinct;
    ci.avg_width = 8;
    if (std::string{c.name} == "status") {
      ci.most_common_vals = {"shipped", "pending", "cancelled"};
      ci.most_common_freqs = {0.7, 0.2, 0.1};
    }
    t.columns.push_back(std::move(ci));
  }
  return t;
}

void index(table_info& t, std::string name, std::string am,
           std::vector<std::string> keys, bool primary = false,
           std::string predicate = {}) {
  index_info x;
  x.oid = static_cast<uint32_t>(t.oid + 1 + t.indexes.size());
  x.schema = t.schema;
  x.name = std::move(name);
  x.am = std::move(am);
  x.keys = std::move(keys);
  x.primary = primary;
  x.unique = primary;
  x.constraint_backed = primary;
  x.predicate = std::move(predicate);
  x.size_bytes = t.size_bytes / 4;
  x.scans = primary ? 1000 : 0;
  t.indexes.push_back(std::move(x));
}

catalog build() {
  catalog cat;
  cat.search_path = {"public", "clinic"};
  cat.pg_trgm_installed = true;
  cat.hypopg_installed = true;
  auto patients = table("clinic", "patients", 200000,
                        {{"id", "bigint", -1},
                         {"clinic_id", "integer", 40},
                         {"email", "character varying(255)", -1},
                         {"last_name", "text", 30000},
                         {"first_name", "text", 5000},
                         {"birth_date", "date", 20000},
                         {"deleted_at", "timestamp with time zone", -0.03},
                         {"location", "point"}});
  index(patients, "patients_pkey", "btree", {"id"}, true);
  auto appointments = table("clinic", "appointments", 5000000,
                            {{"id", "bigint", -1},
                             {"patient_id", "bigint", -0.04},
                             {"clinic_id", "integer", 40},
                             {"status", "text", 4},
                             {"starts_at", "timestamp with time zone", -0.5},
                             {"room", "text"}});
  index(appointments, "appointments_pkey", "btree", {"id"}, true);
  index(appointments, "appointments_open_idx", "btree", {"starts_at DESC"},
        false, "(status = 'booked'::text)");
  auto customers = table("public", "customers", 100000,
                         {{"id", "integer", -1},
                          {"email", "text", -1},
                          {"last_name", "text", 30000},
                          {"city", "text", 300},
                          {"country", "text", 50},
                          {"created_at", "timestamp with time zone", -1}});
  index(customers, "customers_pkey", "btree", {"id"}, true);
  auto orders = table("public", "orders", 2000000,
                      {{"id", "bigint", -1},
                       {"customer_id", "integer", 90000},
                       {"status", "text", 5},
                       {"amount", "numeric(10,2)"},
                       {"total", "numeric"},
                       {"created_at", "timestamp with time zone", -0.9},
                       {"note", "text"},
                       {"ref_code", "character varying(20)", -1}});
  index(orders, "orders_pkey", "btree", {"id"}, true);
  index(orders, "orders_created_at_idx", "btree", {"created_at"});
  orders.foreign_keys.push_back({"orders_customer_id_fkey",
                                 {"customer_id"},
                                 "public",
                                 "customers",
                                 {"id"}});
  auto items = table("public", "order_items", 6000000,
                     {{"id", "bigint", -1},
                      {"order_id", "bigint", -0.3},
                      {"product_id", "integer", 10000},
                      {"quantity", "integer", 20}});
  index(items, "order_items_pkey", "btree", {"id"}, true);
  items.foreign_keys.push_back(
    {"order_items_order_id_fkey", {"order_id"}, "public", "orders", {"id"}});
  auto documents = table("public", "documents", 300000,
                         {{"id", "bigint", -1},
                          {"doc", "jsonb"},
                          {"tags", "text[]"},
                          {"title", "text", -0.9},
                          {"body", "text"}});
  index(documents, "documents_pkey", "btree", {"id"}, true);
  index(documents, "documents_doc_idx", "gin", {"doc"});
  auto events = table("public", "events", 0,
                      {{"id", "bigint"},
                       {"device_id", "integer"},
                       {"at", "timestamp with time zone"},
                       {"payload", "jsonb"}},
                      'p');
  auto jan = table("public", "events_2024_01", 3000000,
                   {{"id", "bigint", -1},
                    {"device_id", "integer", 5000},
                    {"at", "timestamp with time zone", -1},
                    {"payload", "jsonb"}});
  jan.parent = "public.events";
  auto small = table(
    "public", "small_t", 500,
    {{"id", "integer", -1}, {"name", "text", -1}, {"kind", "integer", 5}});
  index(small, "small_t_pkey", "btree", {"id"}, true);
  auto t
    = table("public", "t", 100000,
            {{"a", "integer", 1000}, {"b", "integer", 100}, {"c", "text"}});
  auto active
    = table("public", "active_customers", 0,
            {{"id", "integer"}, {"email", "text"}, {"country", "text"}}, 'v');
  active.view_definition = " SELECT c.id, c.email, c.country FROM customers c "
                           "WHERE c.created_at > '2020-01-01'::date;";
  auto nested = table("public", "customer_orders", 0,
                      {{"customer_id", "integer"},
                       {"country", "text"},
                       {"order_id", "bigint"},
                       {"status", "text"}},
                      'v');
  nested.view_definition
    = " SELECT ac.id AS customer_id, ac.country, o.id AS order_id, o.status "
      "FROM active_customers ac JOIN orders o ON o.customer_id = ac.id;";
  for (auto* x : {&patients, &appointments, &customers, &orders, &items,
                  &documents, &events, &jan, &small, &t, &active, &nested})
    cat.tables.push_back(std::move(*x));
  return cat;
}

} // namespace

const catalog& sample_catalog() {
  static const catalog cat = build();
  return cat;
}

} // namespace optischema::fuzz
