#include "optischema/actors/llm.hpp"

#include "optischema/analysis/fingerprint.hpp"
#include "optischema/analysis/json.hpp"
#include "optischema/analysis/json_schema.hpp"
#include "optischema/messages/error.hpp"
#include "optischema/prompts/prompts.hpp"
#include "optischema/util/clock.hpp"
#include "optischema/util/logging.hpp"
#include "optischema/util/strings.hpp"

#include <caf/event_based_actor.hpp>

#include <fmt/format.h>
#include <rapidjson/document.h>

#include <ctime>

namespace optischema::actors {

namespace {

using self_ptr = llm_actor::stateful_pointer<llm_state>;

/// Replaces every quoted literal ('…') by '?': with redaction on, no
/// constant from a plan's conditions leaves the engine.
std::string mask_literals(const std::string& text) {
  std::string out;
  bool in = false;
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = text[i];
    if (!in && c == '\'') {
      in = true;
      out += "'?";
    } else if (in && c == '\'') {
      if (i + 1 < text.size() && text[i + 1] == '\'') {
        ++i; // an escaped quote inside the literal
        continue;
      }
      in = false;
      out += '\'';
    } else if (!in) {
      out += c;
    }
  }
  return out;
}

/// Fires the llm_budget alert when today's spend reaches its share of the
/// budget (tokens or dollars), and resolves it when a new day starts: once
/// each way, through the SUPERVISOR, which hands it to the ALERTER.
void watch_budget(self_ptr self) {
  auto& st = self->state;
  auto& c = st.config;
  // A budget of 0 is a choice (no calls at all), not one running out.
  if (!st.supervisor || !st.disabled.empty() || c.daily_tokens <= 0
      || !(c.daily_usd > 0))
    return;
  auto share = std::max(static_cast<double>(st.tokens_today)
                          / static_cast<double>(c.daily_tokens),
                        st.usd_today / c.daily_usd);
  auto firing = share >= c.budget_alert_share;
  if (firing == st.budget_alerted)
    return;
  st.budget_alerted = firing;
  alert a;
  a.rule = "llm_budget";
  a.severity = alert_severity::warning;
  a.firing = firing;
  a.summary = fmt::format("{:.0f} % of the LLM's daily budget is spent ({} of "
                          "{} tokens, ${:.2f} of ${:.2f}): explanations and "
                          "rewrites stop when it is all spent, until 00:00 UTC",
                          share * 100, st.tokens_today, c.daily_tokens,
                          st.usd_today, c.daily_usd);
  a.action = "raise --llm-daily-tokens / --llm-daily-usd, or let it wait for "
             "the next UTC day; cached answers are still served";
  a.evidence = {{"tokens_today", static_cast<double>(st.tokens_today)},
                {"daily_tokens", static_cast<double>(c.daily_tokens)},
                {"usd_today", st.usd_today},
                {"daily_usd", c.daily_usd}};
  self->send(st.supervisor, atom::alert_v, std::move(a));
}

/// Keeps today's spend in step with the STORE when the UTC day changes.
void roll_day(self_ptr self) {
  auto& st = self->state;
  auto today = utc_day(now_ms());
  if (today == st.day)
    return;
  st.day = today;
  st.tokens_today = 0;
  st.usd_today = 0;
  watch_budget(self);
}

/// Refuses when what was spent today, plus what questions in flight have
/// set aside, plus `tokens`/`usd` more would pass the daily budget.
std::optional<failure> over_budget(const llm_state& st, int64_t tokens = 0,
                                   double usd = 0) {
  if (st.tokens_today + st.reserved_tokens + tokens > st.config.daily_tokens
      || st.usd_today + st.reserved_usd + usd > st.config.daily_usd
      || st.tokens_today >= st.config.daily_tokens
      || st.usd_today >= st.config.daily_usd)
    return failure{
      ec::budget_exhausted,
      fmt::format("the daily LLM budget is used up ({} of {} tokens, "
                  "${:.2f} of ${:.2f}, {} tokens set aside for questions "
                  "in flight); calls resume at 00:00 UTC, or raise "
                  "--llm-daily-tokens / --llm-daily-usd",
                  st.tokens_today, st.config.daily_tokens, st.usd_today,
                  st.config.daily_usd, st.reserved_tokens)};
  return std::nullopt;
}

/// What a question may cost at most before it is asked: its prompt (about
/// four characters a token) and a full completion.
std::pair<int64_t, double> worst_case(const llm_config& c,
                                      const llm_call& call) {
  auto prompt
    = static_cast<int64_t>(
        (call.t.system.size() + call.user.size() + call.t.schema.size()) / 4)
    + 1;
  int64_t completion = llm::chat_request{}.max_tokens;
  auto usd = static_cast<double>(prompt) * c.usd_per_million_input / 1e6
    + static_cast<double>(completion) * c.usd_per_million_output / 1e6;
  return {prompt + completion, usd};
}

llm_answer answer(const std::string& kind, bool cached,
                  const std::string& content, const llm::usage& tokens,
                  const std::string& model, int version) {
  return {
    kind,  cached, content, tokens.prompt_tokens, tokens.completion_tokens,
    model, version};
}

/// Asks the endpoint (blocking; run by a call worker); an answer failing
/// its schema is asked for once more with the error, then dropped with the
/// reason.
endpoint_answer call_endpoint(llm::client& client, const prompt_template& t,
                              const std::string& user) {
  endpoint_answer out;
  llm::chat_request req;
  req.messages = {{"system", t.system}, {"user", user}};
  req.json_schema = strict_schema(t.schema);
  req.schema_name = t.kind;
  for (int attempt = 0; attempt < 2; ++attempt) {
    ++out.calls;
    auto res = client.chat(req);
    if (!res) {
      out.error = res.error();
      return out;
    }
    out.latency_ms += res->latency_ms;
    out.used.prompt_tokens += res->tokens.prompt_tokens;
    out.used.completion_tokens += res->tokens.completion_tokens;
    out.used.total_tokens += res->tokens.total_tokens;
    auto valid = validate_json(res->content, t.schema);
    if (valid) {
      out.res = std::move(*res);
      return out;
    }
    ++out.invalid;
    if (attempt == 1) {
      out.dropped = true;
      out.error = failure{ec::llm_error,
                          "the LLM's answer was dropped after a second try: "
                            + valid.error().message};
      return out;
    }
    req.messages.push_back({"assistant", res->content});
    req.messages.push_back(
      {"user",
       "Your answer failed validation: " + valid.error().message
         + ". Answer again with JSON that matches the schema exactly."});
  }
  return out;
}

/// Accounts for a worker's answer and delivers it.
void answered(self_ptr self, const llm_request& q, const prompt_template& t,
              const std::string& key, endpoint_answer& a,
              caf::typed_response_promise<llm_answer>& rp) {
  auto& st = self->state;
  st.calls += a.calls;
  st.invalid_answers += a.invalid;
  st.dropped += a.dropped ? 1 : 0;
  st.latency_ms_total += a.latency_ms;
  auto& used = a.used;
  auto usd = static_cast<double>(used.prompt_tokens)
      * st.config.usd_per_million_input / 1e6
    + static_cast<double>(used.completion_tokens)
      * st.config.usd_per_million_output / 1e6;
  // Tokens of a dropped answer were spent all the same.
  if (used.total_tokens > 0) {
    st.tokens_today += used.total_tokens;
    st.usd_today += usd;
    self->send(st.store, atom::put_v, atom::spend_v, st.day, used.total_tokens,
               usd);
    watch_budget(self);
  }
  if (a.error) {
    ++st.failures;
    st.last_error = a.error->message;
    OPTISCHEMA_WARN("llm: {}", a.error->message);
    rp.deliver(make_error(*a.error));
    return;
  }
  st.last_error.clear();
  self->send(st.store, atom::put_v, atom::cache_v, key, a.res.content,
             static_cast<int64_t>(st.config.cache_ttl.count()),
             st.config.cache_max_bytes);
  rp.deliver(
    answer(q.kind, false, a.res.content, used, a.res.model, t.version));
}

/// A call worker: asks the endpoint for one question at a time. Detached,
/// because the HTTP call blocks its thread.
caf::behavior call_worker(caf::event_based_actor*,
                          std::shared_ptr<llm::client> client) {
  return {
    [client](atom::ask, const llm_call& c) {
      return call_endpoint(*client, c.t, c.user);
    },
  };
}

/// Hands queued questions to idle workers.
void dispatch(self_ptr self) {
  auto& st = self->state;
  while (!st.idle.empty() && !st.queue.empty()) {
    auto worker = st.idle.back();
    st.idle.pop_back();
    auto p = std::make_shared<pending_question>(std::move(st.queue.front()));
    st.queue.pop_front();
    ++st.in_flight;
    // The reservation ends when the question does, answered or not.
    auto release = [self, p, worker] {
      auto& st = self->state;
      --st.in_flight;
      st.reserved_tokens -= p->reserved_tokens;
      st.reserved_usd -= p->reserved_usd;
      st.idle.push_back(worker);
    };
    self->request(worker, caf::infinite, atom::ask_v, p->call)
      .then(
        [self, p, release](endpoint_answer& a) mutable {
          release();
          answered(self, p->q, p->call.t, p->key, a, p->rp);
          dispatch(self);
        },
        [self, p, release](const caf::error& err) mutable {
          // Only a worker that died answers with an error; the link ends
          // this actor too, and the SUPERVISOR starts a fresh pool.
          release();
          ++self->state.failures;
          p->rp.deliver(err);
        });
  }
}

caf::result<llm_answer> ask(self_ptr self, const llm_request& q) {
  auto& st = self->state;
  ++st.asked;
  if (!st.disabled.empty())
    return make_error(ec::invalid_configuration, st.disabled);
  auto t = load_prompt(q.kind, st.config.prompt_dir);
  if (!t)
    return make_error(t.error());
  // What the answer depends on (the caller's identity: fingerprint, plan
  // shape, schema definitions), the model and the prompt version. A new
  // plan or schema is a new key, so stale answers are never served (old
  // ones expire by TTL or make room under the size cap).
  auto key = fmt::format(
    "{:016x}",
    fnv1a(fmt::format("{}|{}|{}|{}|{}", q.kind, st.config.endpoint.model,
                      t->version, st.config.redact_literals, q.identity)));
  auto rp = self->make_response_promise<llm_answer>();
  self
    ->request(st.store, std::chrono::seconds{10}, atom::get_v, atom::cache_v,
              key)
    .then(
      [self, rp, q, t = *t, key](const std::string& cached) mutable {
        auto& st = self->state;
        if (!cached.empty()) {
          ++st.cache_hits;
          rp.deliver(answer(q.kind, true, cached, {}, st.config.endpoint.model,
                            t.version));
          return;
        }
        ++st.cache_misses;
        roll_day(self);
        auto redact = st.config.redact_literals;
        std::map<std::string, std::string> vars{
          {"statement",
           redact ? fingerprint_statement(q.statement).normalized
                  : q.statement},
          {"plan", redact ? mask_literals(q.plan_json) : q.plan_json},
          {"schema", q.schema_text},
          {"findings",
           q.findings.empty()
             ? "(none)"
             : (redact ? mask_literals(q.findings) : q.findings)},
          {"recommendation", redact ? mask_literals(q.context) : q.context},
        };
        pending_question p{q, llm_call{t, render(t.user, vars)}, key, 0, 0, rp};
        auto [tokens, usd] = worst_case(st.config, p.call);
        if (auto f = over_budget(st, tokens, usd)) {
          ++st.budget_refusals;
          rp.deliver(make_error(*f));
          return;
        }
        if (st.queue.size() >= st.max_queued) {
          ++st.busy_refusals;
          rp.deliver(make_error(
            ec::conflict,
            fmt::format("the LLM is busy: {} questions are waiting for one "
                        "of {} calls in flight; ask again later, or raise "
                        "--llm-concurrency",
                        st.queue.size(), st.workers.size())));
          return;
        }
        p.reserved_tokens = tokens;
        p.reserved_usd = usd;
        st.reserved_tokens += tokens;
        st.reserved_usd += usd;
        st.queue.push_back(std::move(p));
        dispatch(self);
      },
      [self, rp](const caf::error& err) mutable {
        rp.deliver(
          make_error(ec::store_error,
                     "the LLM cache is unavailable: " + error_message(err)));
      });
  return rp;
}

} // namespace

std::string utc_day(int64_t epoch_ms) {
  std::time_t secs = epoch_ms / 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday);
}

llm_actor::behavior_type llm(llm_actor::stateful_pointer<llm_state> self,
                             llm_config config, store_actor store,
                             supervisor_actor supervisor) {
  auto& st = self->state;
  st.config = std::move(config);
  st.store = std::move(store);
  st.supervisor = std::move(supervisor);
  if (!st.config.enabled) {
    st.disabled
      = "the LLM is disabled: set OPENAI_API_KEY (or --llm-api-key), or "
        "--llm-base-url for a local OpenAI-compatible server such as "
        "Ollama; the engine's own analysis works without it";
  } else {
    auto c = llm::client::create(st.config.endpoint);
    if (c)
      st.client = std::move(*c);
    else
      st.disabled = c.error().message;
  }
  if (st.client) {
    // Linked: the pool ends with this actor (a restart makes a new one).
    for (size_t i = 0;
         i < std::max<size_t>(1, st.config.endpoint.max_concurrency); ++i)
      st.workers.push_back(
        self->spawn<caf::detached + caf::linked>(call_worker, st.client));
    st.idle = st.workers;
  }
  st.max_queued = st.config.max_queued;
  // Today's spend survives restarts.
  st.day = utc_day(now_ms());
  self
    ->request(st.store, std::chrono::seconds{10}, atom::get_v, atom::spend_v,
              st.day)
    .then(
      [self, day = st.day](int64_t tokens, double usd) {
        if (self->state.day == day) {
          self->state.tokens_today += tokens;
          self->state.usd_today += usd;
          watch_budget(self);
        }
      },
      [](const caf::error&) {
        // nop: a fresh day's count starts at zero
      });
  return {
    [self](atom::ask, const llm_request& q) { return ask(self, q); },
    [self](atom::status) -> status_report {
      auto& st = self->state;
      roll_day(self);
      auto state = !st.disabled.empty() ? health::disabled
        : over_budget(st)               ? health::degraded
        : !st.last_error.empty()        ? health::degraded
                                        : health::ok;
      return make_status(state, [&](json::writer& w) {
        if (!st.disabled.empty()) {
          json::field(w, "message", st.disabled);
        }
        json::field(w, "model", st.config.endpoint.model);
        json::field(w, "asked", st.asked);
        json::field(w, "in_flight", st.in_flight);
        json::field(w, "queued", st.queue.size());
        json::field(w, "busy_refusals", st.busy_refusals);
        json::field(w, "calls", st.calls);
        json::field(w, "cache_hits", st.cache_hits);
        json::field(w, "cache_misses", st.cache_misses);
        json::key(w, "cache_hit_ratio");
        auto looked = st.cache_hits + st.cache_misses;
        json::number(w,
                     looked > 0 ? static_cast<double>(st.cache_hits)
                         / static_cast<double>(looked)
                                : 0.0);
        json::field(w, "invalid_answers", st.invalid_answers);
        json::field(w, "dropped_answers", st.dropped);
        json::field(w, "failures", st.failures);
        json::field(w, "budget_refusals", st.budget_refusals);
        json::key(w, "mean_latency_ms");
        json::number(w,
                     st.calls > 0
                       ? st.latency_ms_total / static_cast<double>(st.calls)
                       : 0.0);
        json::key(w, "budget");
        w.StartObject();
        json::field(w, "day", st.day);
        json::field(w, "tokens", st.tokens_today);
        json::field(w, "tokens_limit", st.config.daily_tokens);
        json::field(w, "usd", st.usd_today);
        json::field(w, "usd_limit", st.config.daily_usd);
        json::field(w, "tokens_reserved", st.reserved_tokens);
        w.EndObject();
        if (!st.last_error.empty()) {
          json::field(w, "last_error", st.last_error);
        }
      });
    },
  };
}

} // namespace optischema::actors
