#include "optischema/actors/collector.hpp"

#include "optischema/analysis/deltas.hpp"
#include "optischema/analysis/fingerprint.hpp"
#include "optischema/analysis/json.hpp"
#include "optischema/messages/error.hpp"
#include "optischema/pg/stats_reader.hpp"
#include "optischema/util/clock.hpp"
#include "optischema/util/logging.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace optischema::actors {

namespace {

using self_ptr = collector_actor::stateful_pointer<collector_state>;

constexpr auto min_backoff = std::chrono::milliseconds{1000};
constexpr auto fingerprint_timeout = std::chrono::seconds{30};
constexpr auto alert_timeout = std::chrono::seconds{10};

std::string status_json(const collector_state& st) {
  return json::object([&](json::writer& w) {
    json::field(w, "name", st.target);
    json::field(w, "dsn", st.session ? st.session->target().display : "");
    json::field(w, "state", to_string(st.state));
    json::field(w, "poll_interval_ms", st.interval.count());
    if (st.standby || !st.owner.empty()) {
      json::field(w, "standby", st.standby);
      json::field(w, "owner", st.owner);
    }
    json::field(w, "last_poll", st.last_poll_ms);
    json::field(w, "last_success", st.last_success_ms);
    json::field(w, "last_poll_duration_ms", st.last_poll_duration_ms);
    // Prometheus' histogram: bounds, cumulative counts, sum and count.
    auto& h = st.poll_seconds;
    json::key(w, "poll_seconds");
    w.StartObject();
    json::key(w, "le");
    w.StartArray();
    for (auto b : h.bounds)
      json::number(w, b);
    w.EndArray();
    json::key(w, "counts");
    w.StartArray();
    for (size_t i = 0; i < h.bounds.size(); ++i)
      w.Uint64(h.cumulative(i));
    w.EndArray();
    json::field(w, "sum", h.sum_seconds);
    json::field(w, "count", h.count);
    w.EndObject();
    json::field(w, "polls", st.polls);
    json::field(w, "failures", st.failures);
    json::field(w, "statements", st.statements);
    json::field(w, "hidden_rows", st.hidden_rows);
    json::field(w, "resets_detected", st.resets_detected);
    json::field(w, "last_reset", st.last_reset_ms);
    json::field(w, "evicted_total", st.evicted_total);
    json::field(w, "texts_withheld", st.texts_withheld);
    json::field(w, "server_version", st.facts.version);
    json::field(w, "role", st.facts.user);
    json::field(w, "error", st.last_error);
    json::field(w, "warnings", st.warnings);
    json::field(w, "advice", st.advice);
  });
}

void publish(self_ptr self, const char* type, std::string payload) {
  event ev{type, self->state.target, now_ms(), std::move(payload)};
  for (auto& sink : self->state.peers.sinks)
    self->send(sink, atom::publish_v, ev);
}

/// What the ALERTER made of a poll: an `alert` event, unless nothing
/// fired or resolved.
void publish_alerts(self_ptr self, const std::string& payload) {
  if (!payload.empty())
    publish(self, event_type::alert, payload);
}

/// Moves to `state`, announcing the change to the sinks.
void set_state(self_ptr self, health state) {
  auto& st = self->state;
  auto changed = st.state != state;
  st.state = state;
  if (changed)
    publish(self, event_type::status, status_json(st));
}

void schedule(self_ptr self, std::chrono::milliseconds delay) {
  auto gen = ++self->state.tick_generation;
  self->delayed_send(self, delay, atom::tick_v, gen);
}

void finish_waiting(self_ptr self, int64_t statements) {
  for (auto& rp : self->state.waiting)
    rp.deliver(statements);
  self->state.waiting.clear();
}

void fail_waiting(self_ptr self, const failure& f) {
  for (auto& rp : self->state.waiting)
    rp.deliver(make_error(f));
  self->state.waiting.clear();
}

void poll_failed(self_ptr self, const failure& f) {
  auto& st = self->state;
  ++st.failures;
  st.polling = false;
  st.last_poll_duration_ms = elapsed_ms_exact(st.poll_started);
  st.poll_seconds.observe(st.last_poll_duration_ms / 1000);
  if (st.peers.transient)
    st.session->disconnect();
  auto first = !st.last_error || st.last_error->message != f.message;
  st.last_error = f;
  if (st.peers.alerter && !st.standby)
    self
      ->request(st.peers.alerter, alert_timeout, atom::alert_v, atom::failed_v,
                st.target, now_ms(), f.message)
      .then(
        [self](const std::string& payload) { publish_alerts(self, payload); },
        [](const caf::error&) {}); // the ALERTER restarts: no alert
  if (first)
    OPTISCHEMA_WARN("collector {}: {}", st.target, f.message);
  set_state(self, st.standby ? health::disabled : health::down);
  fail_waiting(self, f);
  // Retry sooner than the poll interval while down, backing off to it.
  st.backoff = std::clamp(st.backoff * 2, min_backoff, st.interval);
  schedule(self, std::min(st.backoff, st.interval));
}

void finish_poll(self_ptr self, raw_sample sample) {
  auto& st = self->state;
  fingerprint_result unknown;
  auto lookup = [&](const pgss_row& row) -> const fingerprint_result& {
    auto i = st.fingerprints.find(row.key.queryid);
    return i != st.fingerprints.end() ? i->second : unknown;
  };
  // Texts as any database user wrote them never go further: normalised
  // (constants as $n), and dropped where they hold a password.
  st.texts_withheld = static_cast<uint64_t>(scrub_texts(sample, lookup));
  auto deltas = compute_deltas(st.prev.get(), sample);
  auto db = compute_database_metrics(st.prev.get(), sample);
  auto snap = std::make_shared<const metrics_snapshot>(
    build_snapshot(st.target, sample, deltas, db, lookup));
  // -- status
  st.warnings.clear();
  st.advice.clear();
  if (st.facts.superuser)
    st.advice.push_back(
      fmt::format("connected as superuser {}; a role with pg_monitor is enough",
                  st.facts.user));
  if (sample.hidden_rows > 0)
    st.warnings.push_back(
      fmt::format("{} pg_stat_statements rows of other roles are hidden: GRANT "
                  "pg_read_all_stats TO {};",
                  sample.hidden_rows, st.facts.user));
  if (deltas.reset_detected) {
    ++st.resets_detected;
    st.last_reset_ms = sample.ts_ms;
    OPTISCHEMA_INFO("collector {}: pg_stat_statements was reset; deltas "
                    "restart from the new counters",
                    st.target);
  }
  if (deltas.evicted > 0) {
    st.evicted_total += static_cast<uint64_t>(deltas.evicted);
    st.warnings.push_back(fmt::format(
      "{} entries were evicted from pg_stat_statements during the last "
      "interval, so some calls went uncounted: raise pg_stat_statements.max",
      deltas.evicted));
  }
  st.statements = snap->statements.size();
  st.hidden_rows = sample.hidden_rows;
  st.last_error.reset();
  st.last_success_ms = sample.ts_ms;
  st.last_poll_duration_ms = elapsed_ms_exact(st.poll_started);
  st.poll_seconds.observe(st.last_poll_duration_ms / 1000);
  st.backoff = std::chrono::milliseconds{0};
  // -- hand over: store first, so readers woken by the event find the data.
  // The base needs counters only; the texts of new queryids live on in the
  // fingerprints.
  for (auto& row : sample.rows)
    std::string{}.swap(row.query);
  auto base = std::make_shared<const raw_sample>(std::move(sample));
  self->send(st.peers.store, atom::put_v, snap, base);
  if (st.peers.alerter)
    self
      ->request(st.peers.alerter, alert_timeout, atom::alert_v, snap,
                !st.peers.transient)
      .then(
        [self](const std::string& payload) { publish_alerts(self, payload); },
        [](const caf::error&) {});
  publish(self, event_type::metrics,
          json::metrics_payload(*snap, st.event_top_n));
  // A poll that ended after the fleet gave the target away leaves it off.
  set_state(self,
            st.standby              ? health::disabled
              : st.warnings.empty() ? health::ok
                                    : health::degraded);
  st.prev = base;
  // Forget fingerprints of queryids that left pg_stat_statements.
  if (st.fingerprints.size() > 2 * st.prev->rows.size() + 1000) {
    std::unordered_map<int64_t, fingerprint_result> keep;
    for (auto& row : st.prev->rows)
      if (auto i = st.fingerprints.find(row.key.queryid);
          i != st.fingerprints.end())
        keep.emplace(row.key.queryid, i->second);
    st.fingerprints = std::move(keep);
  }
  st.polling = false;
  finish_waiting(self, static_cast<int64_t>(st.statements));
  auto spent
    = std::chrono::milliseconds{static_cast<int64_t>(st.last_poll_duration_ms)};
  schedule(self, std::max(std::chrono::milliseconds{0}, st.interval - spent));
}

void fingerprint_new(self_ptr self, raw_sample sample);

void start_poll(self_ptr self) {
  auto& st = self->state;
  if (st.polling)
    return;
  st.polling = true;
  st.poll_started = std::chrono::steady_clock::now();
  st.last_poll_ms = now_ms();
  ++st.polls;
  // Texts only of queryids never seen: the fingerprints hold the others'.
  auto known = [&st](int64_t queryid) {
    return st.fingerprints.count(queryid) != 0;
  };
  if (st.peers.server) {
    auto sample = st.peers.server->read(st.session->target(), known);
    if (!sample) {
      poll_failed(self, sample.error());
      return;
    }
    if (auto facts = st.peers.server->facts()) {
      if (st.facts.version.empty() || st.last_error.has_value())
        OPTISCHEMA_INFO("collector {}: read through the connection shared "
                        "by the targets of its server (PostgreSQL {}, role "
                        "{})",
                        st.target, facts->version, facts->user);
      st.facts = *facts;
    }
    fingerprint_new(self, std::move(*sample));
    return;
  }
  auto was_connected = st.session->connected();
  auto sample = pg::read_sample(*st.session, known);
  if (!sample) {
    poll_failed(self, sample.error());
    return;
  }
  if (!was_connected) {
    // A connection per poll (many targets) says so once, and again only
    // after a failure.
    auto news = !st.peers.transient || st.facts.version.empty()
      || st.last_error.has_value();
    st.facts = st.session->facts();
    if (news)
      OPTISCHEMA_INFO("collector {}: connected to {} (PostgreSQL {}, role {})",
                      st.target, st.session->target().display, st.facts.version,
                      st.facts.user);
  }
  if (st.peers.transient)
    st.session->disconnect(); // connected only while polling
  fingerprint_new(self, std::move(*sample));
}

/// Fingerprints the texts of queryids never seen, then finishes the poll.
void fingerprint_new(self_ptr self, raw_sample sample) {
  auto& st = self->state;
  // Only texts of queryids never seen need the FINGERPRINTER.
  text_list texts;
  std::vector<int64_t> ids;
  for (auto& row : sample.rows) {
    if (st.fingerprints.count(row.key.queryid) != 0
        || std::find(ids.begin(), ids.end(), row.key.queryid) != ids.end())
      continue;
    ids.push_back(row.key.queryid);
    texts.push_back(row.query);
  }
  if (texts.empty()) {
    finish_poll(self, std::move(sample));
    return;
  }
  auto shared = std::make_shared<raw_sample>(std::move(sample));
  self
    ->request(st.peers.fingerprinter, fingerprint_timeout, atom::fprint_v,
              std::move(texts))
    .then(
      [self, shared, ids](const fingerprint_list& results) {
        for (size_t i = 0; i < ids.size() && i < results.size(); ++i)
          self->state.fingerprints[ids[i]] = results[i];
        finish_poll(self, std::move(*shared));
      },
      [self, shared, ids](const caf::error& err) {
        // The FINGERPRINTER is restarting: parse here rather than lose a poll.
        OPTISCHEMA_WARN("collector {}: fingerprinter unavailable ({}), "
                        "fingerprinting locally",
                        self->state.target, error_message(err));
        for (auto& row : shared->rows)
          if (std::find(ids.begin(), ids.end(), row.key.queryid) != ids.end())
            self->state.fingerprints[row.key.queryid]
              = fingerprint_statement(row.query);
        finish_poll(self, std::move(*shared));
      });
}

/// In a fleet: polls when this engine owns the target, else stands by
/// without a connection (the owner's engine holds one).
void take_ownership(self_ptr self, const std::string& owner, bool ours) {
  auto& st = self->state;
  auto was_standby = st.standby;
  st.owner = owner;
  st.standby = !ours;
  if (st.standby) {
    if (!was_standby) {
      ++st.tick_generation; // the pending tick polls nothing
      st.session->disconnect();
      // Its alerts are the new owner's to raise.
      if (st.peers.alerter)
        self->send(st.peers.alerter, atom::erase_v, st.target);
      OPTISCHEMA_INFO("collector {}: engine {} polls it now; standing by",
                      st.target, owner);
    }
    // Also on the fleet's first word: not "starting" (which would keep the
    // engine's status degraded) but off here, by design.
    set_state(self, health::disabled);
  } else if (was_standby) {
    // Counters moved on under another engine meanwhile: a fresh baseline,
    // so no interval is counted twice in the fleet.
    st.prev.reset();
    OPTISCHEMA_INFO("collector {}: this engine polls it now", st.target);
    schedule(self, std::chrono::milliseconds{0});
  }
}

} // namespace

collector_actor::behavior_type
collector(collector_actor::stateful_pointer<collector_state> self,
          target_config target, std::chrono::milliseconds interval,
          size_t event_top_n, collector_peers peers) {
  auto& st = self->state;
  st.target = target.name;
  st.interval = interval;
  st.event_top_n = event_top_n;
  st.peers = std::move(peers);
  st.session = std::make_unique<pg::session>(target.conn);
  st.standby = st.peers.standby;
  // Continue from the counters of the last run, so the first poll after a
  // restart yields the deltas of the whole gap instead of a blank baseline.
  // Not in a fleet when started standing by: other engines may have polled
  // the gap, and counting it again would count it twice.
  self
    ->request(st.peers.store, std::chrono::seconds{10}, atom::get_v,
              atom::baseline_v, st.target)
    .then(
      [self](const raw_sample_ptr& base) {
        if (base && !self->state.peers.standby)
          self->state.prev = base;
        schedule(self, self->state.peers.first_poll);
      },
      [self](const caf::error&) {
        schedule(self, self->state.peers.first_poll);
      });
  return {
    [self](atom::tick, uint64_t gen) {
      if (gen != self->state.tick_generation || self->state.standby)
        return;
      start_poll(self);
    },
    [self](atom::poll) -> caf::result<int64_t> {
      auto& st = self->state;
      if (st.standby)
        return make_error(
          ec::conflict,
          st.owner.empty()
            ? fmt::format("{} waits for the fleet to say which engine polls "
                          "it; try again in a moment",
                          st.target)
            : fmt::format("{} is polled by engine {}; ask that engine",
                          st.target, st.owner));
      auto rp = self->make_response_promise<int64_t>();
      st.waiting.push_back(rp);
      start_poll(self);
      return rp;
    },
    [self](atom::owner, const std::string& owner, bool ours) {
      take_ownership(self, owner, ours);
    },
    [self](atom::status) {
      return status_report{self->state.state, status_json(self->state)};
    },
  };
}

} // namespace optischema::actors
