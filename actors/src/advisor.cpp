#include "optischema/actors/advisor.hpp"

#include "optischema/analysis/fingerprint.hpp"
#include "optischema/analysis/json.hpp"
#include "optischema/messages/error.hpp"
#include "optischema/util/clock.hpp"
#include "optischema/util/logging.hpp"

#include <fmt/format.h>

namespace optischema {

namespace {

using self_ptr = advisor_actor::stateful_pointer<advisor_state>;

void publish(self_ptr self, const char* type, std::string payload) {
  event ev{type, self->state.target, now_ms(), std::move(payload)};
  for (auto& sink : self->state.peers.sinks)
    self->send(sink, atom::publish_v, ev);
}

void schedule(self_ptr self, std::chrono::milliseconds delay) {
  auto gen = ++self->state.tick_generation;
  self->delayed_send(self, delay, atom::tick_v, gen);
}

std::string summary_json(const advisor_state& st) {
  rapidjson::StringBuffer buf;
  json::writer w{buf};
  w.StartObject();
  json::key(w, "target");
  json::str(w, st.target);
  json::key(w, "state");
  json::str(w, st.state);
  json::key(w, "interval_ms");
  w.Int64(st.interval.count());
  json::key(w, "last_run");
  w.Int64(st.last_run_ms);
  json::key(w, "last_elapsed_ms");
  w.Double(st.last_elapsed_ms);
  json::key(w, "runs");
  w.Uint64(st.runs);
  json::key(w, "failures");
  w.Uint64(st.failures);
  json::key(w, "actions");
  w.Uint64(st.last_actions);
  json::key(w, "statements");
  w.Uint64(st.last_statements);
  json::key(w, "whatif_calls");
  w.Uint64(st.last_whatif_calls);
  json::key(w, "error");
  if (st.last_error)
    json::write(w, *st.last_error);
  else
    w.Null();
  json::key(w, "warnings");
  w.StartArray();
  for (auto& x : st.warnings)
    json::str(w, x);
  w.EndArray();
  w.EndObject();
  return json::text(buf);
}

/// One analysis of the workload; the result goes to the STORE and out.
caf::result<std::string> run(self_ptr self) {
  auto& st = self->state;
  if (st.misconfigured)
    return make_error(*st.last_error);
  advise_options opts;
  opts.target = st.target;
  opts.min_confidence = st.min_confidence;
  auto report = advise(*st.session, opts);
  ++st.runs;
  st.last_run_ms = now_ms();
  if (!report) {
    ++st.failures;
    st.last_error = report.error();
    st.state = "down";
    OPTISCHEMA_WARN("advisor {}: {}", st.target, report.error().message);
    publish(self, event_type::analysis, summary_json(st));
    return make_error(report.error());
  }
  st.last_error.reset();
  st.state = report->warnings.empty() ? "ok" : "degraded";
  st.warnings = report->warnings;
  st.last_elapsed_ms = report->elapsed_ms;
  st.last_actions = report->actions.size();
  st.last_statements = report->statements.size();
  st.last_whatif_calls = report->whatif_calls;
  auto result = std::make_shared<analysis_result>();
  result->target = st.target;
  result->ts_ms = st.last_run_ms;
  result->report_json = to_json(*report);
  result->recommendations = report->actions;
  result->recommendations.insert(result->recommendations.end(),
                                 report->other.begin(), report->other.end());
  auto rp = self->make_response_promise<std::string>();
  self->request(st.peers.store, std::chrono::seconds{30}, atom::put_v, result)
    .then(
      [self, rp](const analysis_ptr& stored) mutable {
        auto& st = self->state;
        for (auto& r : stored->recommendations) {
          // Announce advice that is new or whose figures changed.
          auto text = to_json(r);
          auto fingerprint = fmt::format("{}|{:.0f}|{}|{}", r.ddl,
                                         r.benefit_ms_per_day, r.status,
                                         r.confidence);
          auto& seen = st.announced[r.id];
          if (seen != fingerprint) {
            seen = fingerprint;
            publish(self, event_type::recommendation, text);
          }
        }
        auto summary = summary_json(st);
        publish(self, event_type::analysis, summary);
        rp.deliver(summary);
      },
      [self, rp](const caf::error& err) mutable {
        OPTISCHEMA_WARN("advisor {}: storing the analysis failed: {}",
                        self->state.target, error_message(err));
        rp.deliver(err);
      });
  return rp;
}

} // namespace

advisor_actor::behavior_type
advisor(advisor_actor::stateful_pointer<advisor_state> self,
        target_config target, std::chrono::milliseconds interval,
        double min_confidence, advisor_peers peers) {
  auto& st = self->state;
  st.target = target.name;
  st.interval = interval;
  st.min_confidence = min_confidence;
  st.peers = std::move(peers);
  auto ci = pg::parse_conninfo(target.dsn);
  if (!ci) {
    st.session = std::make_unique<pg::session>(pg::conninfo{});
    st.last_error = ci.error();
    st.misconfigured = true;
    st.state = "down";
  } else {
    // Plans need room: EXPLAIN of a complex statement takes a while.
    pg::session::options opts;
    opts.statement_timeout = std::chrono::seconds{10};
    st.session = std::make_unique<pg::session>(std::move(*ci), opts);
  }
  if (interval.count() > 0)
    schedule(self, std::min(interval, std::chrono::milliseconds{5000}));
  return {
    [self](atom::tick, uint64_t gen) {
      auto& st = self->state;
      if (gen != st.tick_generation)
        return;
      // Failures and successes alike: the next run is an interval away.
      (void)run(self);
      schedule(self, st.interval);
    },
    [self](atom::analyze) { return run(self); },
    [self](atom::analyze, const std::string& sql) -> caf::result<std::string> {
      auto& st = self->state;
      if (st.misconfigured)
        return make_error(*st.last_error);
      advise_options opts;
      opts.target = st.target;
      opts.use_pg_stat_statements = true; // weights and the real workload
      opts.statements = {sql};
      opts.min_confidence = st.min_confidence;
      opts.max_statements = 1;
      opts.only_given_statements = true;
      auto report = advise(*st.session, opts);
      if (!report)
        return make_error(report.error());
      return to_json(*report, true);
    },
    [self](atom::status) { return summary_json(self->state); },
  };
}

} // namespace optischema
