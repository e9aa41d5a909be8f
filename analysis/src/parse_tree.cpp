#include "optischema/analysis/parse_tree.hpp"
#include "optischema/util/json_parse.hpp"

#include <pg_query.h>

namespace optischema {

expected<rapidjson::Document> parse_tree::parse(const std::string& sql,
                                                wording w) {
  auto r = pg_query_parse(sql.c_str());
  if (r.error != nullptr) {
    std::string msg = r.error->message != nullptr ? r.error->message
                                                  : "unknown error";
    pg_query_free_parse_result(r);
    return failure{ec::parse_error, std::string{w.syntax} + msg};
  }
  rapidjson::Document d;
  auto ok = json::parse(d, r.parse_tree, "the parse tree");
  pg_query_free_parse_result(r);
  if (!ok)
    return failure{ec::parse_error,
                   std::string{w.too_deep} + " (" + ok.error().message + ")"};
  if (!d.IsObject())
    return failure{ec::internal,
                   "libpg_query returned a parse tree that is "
                   "not a JSON object; report this statement"};
  return d;
}

} // namespace optischema
