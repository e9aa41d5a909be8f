#include "optischema/actors/explainer.hpp"

#include "optischema/analysis/findings.hpp"
#include "optischema/analysis/fingerprint.hpp"
#include "optischema/analysis/json.hpp"
#include "optischema/analysis/plan.hpp"
#include "optischema/analysis/statement.hpp"
#include "optischema/messages/error.hpp"
#include "optischema/pg/catalog_reader.hpp"
#include "optischema/pg/explain.hpp"

namespace optischema::actors {

namespace {

/// Findings need the catalog; reading it costs a few queries, so it is
/// reused for this long (schema changes show up within it).
constexpr auto catalog_ttl = std::chrono::minutes{5};

using self_ptr = explainer_actor::stateful_pointer<explainer_state>;

caf::result<explained_statement>
plan_statement(self_ptr self, const std::string& sql, bool findings) {
  auto& st = self->state;
  auto fail = [&](const failure& f) {
    ++st.failures;
    st.last_error = f;
    return make_error(f);
  };
  auto now = std::chrono::steady_clock::now();
  if (findings && (!st.cat || now - st.cat_read > catalog_ttl)) {
    auto cat = pg::read_catalog(*st.session);
    if (!cat)
      return fail(cat.error());
    st.cat = std::move(*cat);
    st.cat_read = now;
  }
  // pg_stat_statements texts may hold `timestamptz $1`, which only
  // libpg_query accepts: plan the equivalent cast.
  auto text = reparsable_sql(sql);
  auto json = pg::explain_json(*st.session, text);
  if (!json)
    return fail(json.error());
  auto p = parse_plan(*json);
  if (!p)
    return fail(p.error());
  ++st.plans;
  st.last_error.reset();
  explained_statement out;
  out.target = st.target;
  out.fingerprint = fingerprint_statement(sql).fingerprint;
  out.query = text;
  if (findings)
    if (auto an = analyze_statement(text, *st.cat))
      out.findings = plan_findings(*p, *an, *st.cat, out.fingerprint);
  out.tree = std::move(*p);
  return out;
}

} // namespace

explainer_actor::behavior_type
explainer(explainer_actor::stateful_pointer<explainer_state> self,
          target_config target) {
  auto& st = self->state;
  st.target = target.name;
  st.session = std::make_unique<pg::session>(target.conn);
  return {
    [self](atom::explain, const std::string& sql) {
      return plan_statement(self, sql, true);
    },
    [self](atom::explain, const std::string& sql, bool findings) {
      return plan_statement(self, sql, findings);
    },
    [self](atom::status) -> status_report {
      auto& st = self->state;
      auto state = st.last_error ? health::degraded : health::ok;
      return make_status(state, [&](json::writer& w) {
        json::field(w, "plans", st.plans);
        json::field(w, "failures", st.failures);
        json::field(w, "error", st.last_error);
      });
    },
  };
}

} // namespace optischema::actors
