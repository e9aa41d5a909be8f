#include "optischema/pg/conninfo.hpp"

#include "optischema/util/redact.hpp"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <cstdlib>

namespace optischema::pg {

std::string quote_conninfo_value(const std::string& x) {
  std::string out = "'";
  for (char c : x) {
    if (c == '\'' || c == '\\')
      out += '\\';
    out += c;
  }
  out += '\'';
  return out;
}

namespace {

std::string env_or(const char* name, std::string fallback) {
  if (const char* v = std::getenv(name); v != nullptr && *v != '\0')
    return v;
  return fallback;
}

} // namespace

expected<std::map<std::string, std::string>>
conninfo_settings(const std::string& dsn) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(dsn.c_str(), &err);
  if (opts == nullptr) {
    std::string msg = err != nullptr ? err : "out of memory";
    if (err != nullptr)
      PQfreemem(err);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' '))
      msg.pop_back();
    return failure{ec::invalid_configuration, std::move(msg)};
  }
  std::map<std::string, std::string> out;
  for (auto* o = opts; o->keyword != nullptr; ++o)
    if (o->val != nullptr && *o->val != '\0')
      out[o->keyword] = o->val;
  PQconninfoFree(opts);
  return out;
}

expected<conninfo>
parse_conninfo(const std::string& dsn,
               const std::vector<std::pair<std::string, std::string>>& extra) {
  auto settings = conninfo_settings(dsn);
  if (!settings)
    return failure{ec::invalid_configuration,
                   fmt::format("invalid connection string '{}': {}; use a URI "
                               "(postgresql://user@host:5432/db) or key=value "
                               "pairs (host=… dbname=…)",
                               redact_secrets(dsn), settings.error().message)};
  auto& given = *settings;
  conninfo r;
  r.raw = dsn;
  for (auto& [k, v] : given) {
    if (!r.effective.empty())
      r.effective += ' ';
    r.effective += k;
    r.effective += '=';
    r.effective += quote_conninfo_value(v);
  }
  for (auto& [k, v] : extra) {
    if (given.count(k) != 0)
      continue;
    if (!r.effective.empty())
      r.effective += ' ';
    r.effective += k + "=" + quote_conninfo_value(v);
  }
  // Resolve the defaults libpq would use, for display and naming only.
  auto get = [&](const char* key, const char* env, std::string fallback) {
    if (auto i = given.find(key); i != given.end())
      return i->second;
    return env_or(env, std::move(fallback));
  };
  auto user = get("user", "PGUSER", env_or("USER", "postgres"));
  auto host = get("host", "PGHOST", get("hostaddr", "PGHOSTADDR", "localhost"));
  auto port = get("port", "PGPORT", "5432");
  r.dbname = get("dbname", "PGDATABASE", user);
  r.display = fmt::format("{}@{}:{}/{}", user, host, port, r.dbname);
  return r;
}

} // namespace optischema::pg
