#include "optischema/actors/advisor.hpp"
#include "optischema/util/json_parse.hpp"

#include "optischema/advice/rewrite_check.hpp"
#include "optischema/analysis/fingerprint.hpp"
#include "optischema/analysis/json.hpp"
#include "optischema/analysis/plan.hpp"
#include "optischema/messages/error.hpp"
#include "optischema/pg/catalog_reader.hpp"
#include "optischema/util/clock.hpp"
#include "optischema/util/logging.hpp"

#include <caf/send.hpp>

#include <fmt/format.h>
#include <rapidjson/document.h>

namespace optischema::actors {

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

advisor_summary summary(const advisor_state& st) {
  advisor_summary x;
  x.target = st.target;
  x.state = st.state;
  x.interval_ms = st.interval.count();
  x.last_run_ms = st.last_run_ms;
  x.last_elapsed_ms = st.last_elapsed_ms;
  x.runs = st.runs;
  x.failures = st.failures;
  x.actions = st.last_actions;
  x.statements = st.last_statements;
  x.whatif_calls = st.last_whatif_calls;
  x.rewrites_verified = st.rewrites_verified;
  x.rewrites_rejected = st.rewrites_rejected;
  x.error = st.last_error;
  x.warnings = st.warnings;
  x.owner = st.owner;
  x.standby = st.standby;
  return x;
}

/// Announces recommendations that are new or whose figures changed.
void announce(self_ptr self, const analysis_result& stored) {
  auto& st = self->state;
  for (auto& r : stored.recommendations) {
    auto fingerprint = fmt::format("{}|{}|{:.0f}|{}|{}|{}", r.ddl,
                                   r.rewrite_sql, r.benefit_ms_per_day,
                                   r.status, r.confidence, r.narrative.size());
    auto& seen = st.announced[r.id];
    if (seen != fingerprint) {
      seen = fingerprint;
      publish(self, event_type::recommendation, to_json(r));
    }
  }
}

/// Sends the best untested index actions to the sandbox: proof arrives
/// without anyone asking (the SANDBOX actor stores and announces it).
void auto_test(self_ptr self, const analysis_result& stored) {
  auto& st = self->state;
  if (!st.peers.supervisor || st.peers.auto_test == 0)
    return;
  size_t sent = 0;
  for (auto& r : stored.recommendations) {
    if (sent == st.peers.auto_test)
      break;
    auto provable = r.kind == "create_index"
      || (r.kind == "rewrite" && r.verified);
    if (!provable || r.status != "new" || !r.sandbox.empty()
        || r.confidence < st.min_confidence
        || !st.auto_tested.insert(r.id).second)
      continue;
    ++sent;
    self
      ->request(st.peers.supervisor, std::chrono::minutes{30}, atom::test_v,
                st.target, r.id)
      .then([](const recommendation&) {},
            [self, id = r.id](const caf::error& err) {
              // Tried again after the next analysis.
              self->state.auto_tested.erase(id);
              OPTISCHEMA_DEBUG("advisor {}: sandbox test of {} failed: {}",
                               self->state.target, id, error_message(err));
            });
  }
}

/// Keeps a finished rewrite check for an hour (and counts it).
void remember_check(self_ptr self, const std::string& key,
                    const rewrite_check& check) {
  auto& st = self->state;
  ++(check.verified ? st.rewrites_verified : st.rewrites_rejected);
  st.checked[key] = {std::chrono::steady_clock::now(), check};
}

/// Asks the target's SANDBOX to run `original` and `rewrite` on the copy
/// and compare their rows (never on the target); `done` gets the rows
/// check, or none and why.
void rows_from_sandbox(
  self_ptr self, const std::string& original, const std::string& rewrite,
  std::chrono::seconds timeout,
  std::function<void(const rows_check*, const std::string&)> done) {
  auto& st = self->state;
  if (!st.peers.supervisor) {
    done(nullptr, "no sandbox to compare the rows on");
    return;
  }
  self
    ->request(st.peers.supervisor, timeout, atom::verify_v, st.target, original,
              rewrite)
    .then(
      [done](const rows_check& rows) { done(&rows, {}); },
      [done, timeout](const caf::error& err) {
        auto code = error_code(err);
        done(nullptr,
             code == ec::disabled
               ? "no sandbox to compare the rows on (pass --sandbox-dsn): "
                 "rows are compared on a copy only, never on a target"
               : code == ec::timeout || err == caf::sec::request_timeout
               ? fmt::format("the sandbox did not compare the rows within "
                             "{} s (its copy may still be in the making); "
                             "ask again later",
                             timeout.count())
               : "the sandbox could not compare the rows: "
                 + error_message(err));
      });
}

/// The content of an LLM answer as a JSON object (the prompt's schema
/// checked its shape); `cached` stays true only while every answer was.
std::optional<rapidjson::Document> content_of(const llm_answer& answer,
                                              bool& cached) {
  cached = cached && answer.cached;
  rapidjson::Document c;
  if (!json::parse(c, answer.content, "an LLM answer") || !c.IsObject())
    return std::nullopt;
  return c;
}

/// Asks the LLM to explain a statement and to propose rewrites, checks each
/// rewrite (parse, parameters, cost, same rows), then calls `done`.
void review_statement(self_ptr self, const statement_result& sr,
                      std::chrono::seconds rows_timeout,
                      std::function<void(llm_review)> done) {
  auto& st = self->state;
  if (!st.peers.llm) {
    llm_review r;
    r.status = "disabled";
    r.message = "no LLM actor runs";
    done(std::move(r));
    return;
  }
  llm_request base;
  base.fingerprint = sr.fingerprint;
  base.statement = sr.query;
  base.plan_json = sr.plan_before;
  base.schema_text = sr.schema_text;
  base.findings = sr.findings_text;
  // The answer depends on the statement, its plan's shape and the schema's
  // definitions: drifting estimates and statistics keep the cached answer.
  auto shape = parse_plan(sr.plan_before);
  base.identity = sr.fingerprint + "\n"
    + (shape ? shape->shape() : sr.plan_before) + "\n" + sr.schema_signature;
  auto explain = base;
  explain.kind = "explain_plan";
  auto rewrite = base;
  rewrite.kind = "rewrite_query";
  auto review = std::make_shared<llm_review>();
  auto timeout = std::chrono::seconds{180};
  auto original = sr.query;
  auto fp = sr.fingerprint;
  auto plan = sr.plan_before;
  // The explanation and the rewrites are asked independently: one failing
  // does not cost the other. The review completes when both are in.
  auto pending = std::make_shared<int>(2);
  auto finished = [review, pending, done] {
    if (--*pending == 0)
      done(std::move(*review));
  };
  auto failed = [review, finished](const caf::error& err) {
    review->status = error_code(err) == ec::invalid_configuration ? "disabled"
                                                                  : "error";
    if (!review->message.empty())
      review->message += "; ";
    review->message += error_message(err);
    finished();
  };
  self->request(st.peers.llm, timeout, atom::ask_v, explain)
    .then(
      [review, finished](const llm_answer& answer) {
        // Written anew from the parsed object: the API shows what the
        // parser read, never the endpoint's bytes.
        if (auto c = content_of(answer, review->cached)) {
          rapidjson::StringBuffer b;
          json::writer w{b};
          c->Accept(w);
          review->explanation = json::text(b);
        }
        finished();
      },
      failed);
  self->request(st.peers.llm, timeout, atom::ask_v, rewrite)
    .then(
      [=](const llm_answer& answer) {
        auto c = content_of(answer, review->cached);
        auto& st = self->state;
        // Rewrites whose rows are still to be compared on the copy.
        std::vector<std::pair<size_t, std::string>> pending;
        if (c && c->HasMember("rewrites") && (*c)["rewrites"].IsArray())
          for (auto& x : (*c)["rewrites"].GetArray()) {
            if (!x.IsObject() || !x.HasMember("sql") || !x["sql"].IsString())
              continue;
            llm_review::rewrite rw;
            rw.sql = x["sql"].GetString();
            if (x.HasMember("rationale") && x["rationale"].IsString())
              rw.rationale = x["rationale"].GetString();
            // Nothing the LLM says counts until checked; a check is reused
            // for an hour while the plan stays the same.
            auto key = fmt::format("{}\n{}\n{}", fp, rw.sql, plan);
            auto now = std::chrono::steady_clock::now();
            auto hit = st.checked.find(key);
            if (hit != st.checked.end()
                && now - hit->second.first < std::chrono::hours{1}) {
              rw.check = hit->second.second;
            } else {
              // On the target: parse, parameters, cost (EXPLAIN only).
              rw.check = check_rewrite(*st.session, original, rw.sql);
              if (rw.check.rows_pending)
                pending.emplace_back(review->rewrites.size(), key);
              else
                remember_check(self, key, rw.check);
            }
            review->rewrites.push_back(std::move(rw));
          }
        if (pending.empty()) {
          finished();
          return;
        }
        auto waiting = std::make_shared<size_t>(pending.size());
        for (auto& [i, key] : pending)
          rows_from_sandbox(self, original, review->rewrites[i].sql,
                            rows_timeout,
                            [self, review, i = i, key = key, waiting, finished](
                              const rows_check* rows, const std::string& why) {
                              auto& check = review->rewrites[i].check;
                              if (rows != nullptr)
                                complete(check, *rows);
                              else
                                not_compared(check, why);
                              remember_check(self, key, check);
                              if (--*waiting == 0)
                                finished();
                            });
      },
      failed);
}

/// The facts of a recommendation an LLM narrative rests on, without the
/// figures that drift from cycle to cycle (time per day), so an unchanged
/// recommendation hits the cache.
std::string stable_context(const recommendation& r) {
  return json::object([&](json::writer& w) {
    json::field(w, "kind", r.kind);
    json::field(w, "ddl", r.ddl);
    json::field(w, "rollback_ddl", r.rollback_ddl);
    json::field(w, "size_mb",
                std::round(static_cast<double>(r.size_bytes) / 1048576.0 * 10)
                  / 10);
    json::key(w, "statements");
    w.StartArray();
    for (auto& s : r.statements) {
      w.StartObject();
      json::field(w, "query", s.query);
      json::field(w, "cost_before", std::round(s.cost_before));
      json::field(w, "cost_after", std::round(s.cost_after));
      w.EndObject();
    }
    w.EndArray();
    json::field(w, "confidence", r.confidence);
  });
}

/// After an analysis is stored: LLM explanations and checked rewrites for
/// the most expensive statements, narratives for the top actions. The
/// result is stored again and new or changed recommendations announced.
void enrich(self_ptr self, std::vector<statement_result> statements,
            analysis_ptr stored) {
  auto& st = self->state;
  if (!st.peers.llm || st.llm_per_cycle == 0)
    return;
  struct job {
    analysis_ptr result;
    size_t pending = 0;
  };
  auto j = std::make_shared<job>();
  j->result = std::make_shared<analysis_result>(*stored);
  auto finish = [self, j] {
    if (--j->pending > 0)
      return;
    self
      ->request(self->state.peers.store, std::chrono::seconds{30}, atom::put_v,
                j->result)
      .then([self](const analysis_ptr& a) { announce(self, *a); },
            [](const caf::error&) {
              // nop: the plain analysis is stored already
            });
  };
  ++j->pending; // released below, after every request is out
  std::sort(statements.begin(), statements.end(), [](auto& x, auto& y) {
    return x.time_ms_per_day > y.time_ms_per_day;
  });
  size_t reviewed = 0;
  for (auto& sr : statements) {
    if (reviewed == st.llm_per_cycle)
      break;
    if (sr.plan_before.empty())
      continue;
    ++reviewed;
    ++j->pending;
    // The periodic enrichment may wait for the sandbox's first copy.
    review_statement(
      self, sr, std::chrono::minutes{10}, [self, j, finish, sr](llm_review r) {
        for (auto& rw : r.rewrites) {
          recommendation rec;
          rec.kind = "rewrite";
          rec.target = self->state.target;
          rec.title = fmt::format("Rewrite {:.60}", sr.query);
          rec.rewrite_sql = rw.sql;
          rec.verified = rw.check.verified;
          rec.verification = rw.check.reason;
          rec.narrative = rw.rationale;
          rec.narrative_source = "llm";
          rec.cost_before = rw.check.cost_before;
          rec.cost_after = rw.check.cost_after;
          rec.statements.push_back({sr.fingerprint, sr.query,
                                    rw.check.cost_before, rw.check.cost_after,
                                    sr.time_ms_per_day});
          // Checked rewrites are advice; failed ones stay as ideas with the
          // reason, never as advice.
          rec.confidence = rw.check.verified ? 0.7 : 0.1;
          rec.reasons = rw.check.steps;
          rec.reasons.insert(
            rec.reasons.begin(),
            rw.check.verified
              ? "proposed by the LLM, then verified by the engine"
              : "proposed by the LLM; NOT verified: " + rw.check.reason);
          if (sr.cost_before > 0 && rw.check.verified)
            rec.benefit_ms_per_day = sr.time_ms_per_day
              * (1 - rw.check.cost_after / rw.check.cost_before);
          rec.id = recommendation_id(rec.target, rec.kind,
                                     sr.fingerprint + "\n" + rw.sql);
          rec.created_ms = rec.updated_ms = now_ms();
          j->result->recommendations.push_back(std::move(rec));
        }
        finish();
      });
  }
  size_t narrated = 0;
  for (size_t i = 0; i < j->result->recommendations.size(); ++i) {
    auto& rec = j->result->recommendations[i];
    if (narrated == st.llm_per_cycle)
      break;
    if (rec.kind != "create_index" && rec.kind != "drop_index")
      continue;
    ++narrated;
    ++j->pending;
    llm_request q;
    q.kind = "generate_recommendation";
    q.fingerprint = rec.id;
    q.context = stable_context(rec);
    q.identity = rec.id + "\n" + rec.ddl;
    for (auto& sr : statements)
      for (auto& id : sr.served_by)
        if (id == rec.id && q.schema_text.empty())
          q.schema_text = sr.schema_text;
    self->request(st.peers.llm, std::chrono::seconds{180}, atom::ask_v, q)
      .then(
        [j, i, finish](const llm_answer& answer) {
          bool cached = true;
          if (auto c = content_of(answer, cached);
              c && c->HasMember("narrative") && (*c)["narrative"].IsString()) {
            // The shipped schema makes both strings; one from --llm-prompt-dir
            // may not, and GetString on anything else is undefined.
            auto& rec = j->result->recommendations[i];
            rec.narrative = (*c)["narrative"].GetString();
            rec.narrative_source = answer.model.empty() ? std::string{"llm"}
                                                        : answer.model;
            if (c->HasMember("verification") && (*c)["verification"].IsString())
              rec.evidence.push_back(std::string{"to verify after applying: "}
                                     + (*c)["verification"].GetString());
          }
          finish();
        },
        [finish](const caf::error&) { finish(); });
  }
  finish();
}

/// One analysis of the workload; the result goes to the STORE and out.
caf::result<advisor_summary> run(self_ptr self) {
  auto& st = self->state;
  advise_options opts;
  opts.target = st.target;
  opts.min_confidence = st.min_confidence;
  auto report = advise(*st.session, opts);
  if (st.peers.transient)
    st.session->disconnect(); // hypopg's indexes end with the session
  ++st.runs;
  st.last_run_ms = now_ms();
  if (!report) {
    ++st.failures;
    st.last_error = report.error();
    st.state = health::down;
    OPTISCHEMA_WARN("advisor {}: {}", st.target, report.error().message);
    publish(self, event_type::analysis, to_json(summary(st)));
    return make_error(report.error());
  }
  st.last_error.reset();
  st.state = report->warnings.empty() ? health::ok : health::degraded;
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
  auto rp = self->make_response_promise<advisor_summary>();
  self->request(st.peers.store, std::chrono::seconds{30}, atom::put_v, result)
    .then(
      [self, rp,
       statements = report->statements](const analysis_ptr& stored) mutable {
        announce(self, *stored);
        auto_test(self, *stored);
        auto now = summary(self->state);
        publish(self, event_type::analysis, to_json(now));
        rp.deliver(std::move(now));
        enrich(self, std::move(statements), stored);
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
        double min_confidence, size_t llm_per_cycle, advisor_peers peers) {
  auto& st = self->state;
  st.target = target.name;
  st.interval = interval;
  st.min_confidence = min_confidence;
  st.llm_per_cycle = llm_per_cycle;
  st.peers = std::move(peers);
  st.standby = st.peers.standby;
  if (st.standby)
    st.state = health::disabled;
  // Plans need room: EXPLAIN of a complex statement takes a while.
  pg::session::options opts;
  opts.statement_timeout = std::chrono::seconds{10};
  st.session = std::make_unique<pg::session>(target.conn, opts);
  if (interval.count() > 0)
    schedule(self,
             std::min(interval, std::chrono::milliseconds{5000})
               + st.peers.stagger);
  return {
    [self](atom::tick, uint64_t gen) {
      auto& st = self->state;
      if (gen != st.tick_generation)
        return;
      if (st.standby) {
        schedule(self, st.interval);
        return;
      }
      // Failures and successes alike: the next run is an interval away.
      // Anonymous, so the summary has no one to go back to (the timer's
      // sender is this actor, which has no handler for a bare string).
      caf::anon_send(caf::actor_cast<advisor_actor>(self), atom::analyze_v);
      schedule(self, st.interval);
    },
    [self](atom::owner, const std::string& owner, bool ours) {
      auto& st = self->state;
      st.owner = owner;
      st.standby = !ours;
      // Off here by design, not "starting" (which degrades the engine).
      if (st.standby)
        st.state = health::disabled;
      else if (st.state == health::disabled)
        st.state = health::starting;
    },
    [self](atom::analyze) { return run(self); },
    [self](atom::analyze, const std::string& sql,
           bool with_llm) -> caf::result<statement_advice> {
      auto& st = self->state;
      advise_options opts;
      opts.target = st.target;
      opts.use_pg_stat_statements = true; // weights and the real workload
      opts.statements = {sql};
      opts.min_confidence = st.min_confidence;
      opts.max_statements = 1;
      opts.only_given_statements = true;
      auto report = advise(*st.session, opts);
      if (st.peers.transient)
        st.session->disconnect();
      if (!report)
        return make_error(report.error());
      statement_advice out{std::move(*report), std::nullopt};
      if (!with_llm || out.report.statements.empty()
          || out.report.statements.front().plan_before.empty())
        return out;
      auto rp = self->make_response_promise<statement_advice>();
      auto first = out.report.statements.front();
      // Within the API's own wait for the answer (actors/src/edge.cpp).
      review_statement(self, first, std::chrono::seconds{90},
                       [rp, out = std::move(out)](llm_review r) mutable {
                         out.review = std::move(r);
                         rp.deliver(std::move(out));
                       });
      return rp;
    },
    [self](atom::status) {
      return status_report{self->state.state, to_json(summary(self->state))};
    },
  };
}

} // namespace optischema::actors
