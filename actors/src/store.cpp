#include "optischema/actors/store.hpp"

#include "optischema/analysis/json.hpp"
#include "optischema/messages/error.hpp"
#include "optischema/util/clock.hpp"
#include "optischema/util/logging.hpp"

#include <caf/send.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>
#include <optional>

namespace optischema::actors {

namespace {

/// The read `id` of `reads`, taken out (none: it was answered already).
template <class Map>
std::optional<typename Map::mapped_type> take_read(Map& reads, uint64_t id) {
  auto i = reads.find(id);
  if (i == reads.end())
    return std::nullopt;
  auto out = std::move(i->second);
  reads.erase(i);
  return out;
}

/// Writes the backlog of polls, oldest first, stopping at the first
/// failure (the rest waits for the next try); drops the oldest past the
/// bound.
std::optional<failure> write_backlog(store_state& st) {
  while (!st.backlog.empty()) {
    auto& [snap, base] = st.backlog.front();
    if (auto res = st.db->put_snapshot(*snap, base.get()); !res) {
      while (st.backlog_statements > st.max_backlog_statements
             && st.backlog.size() > 1) {
        st.backlog_statements -= st.backlog.front().first->statements.size();
        st.backlog.pop_front();
        ++st.backlog_dropped;
      }
      st.retrying = true;
      return res.error();
    }
    if (st.retrying)
      ++st.backlog_written;
    st.backlog_statements -= snap->statements.size();
    st.backlog.pop_front();
  }
  st.retrying = false;
  return std::nullopt;
}

/// A failed write, counted and shown in the status.
void note_failure(store_actor::stateful_pointer<store_state> self,
                  const failure& f) {
  auto& st = self->state;
  ++st.write_failures;
  // Once per distinct failure: a full disk fails every poll.
  if (f.message != st.last_error)
    OPTISCHEMA_ERROR("store: {}", f.message);
  st.last_error = f.message;
}

/// The answer to a write the caller waits for (nothing runs on a target
/// before it is on disk): true, or the failure.
caf::result<bool> synced(store_actor::stateful_pointer<store_state> self,
                         const expected<ok>& res) {
  if (res)
    return true;
  note_failure(self, res.error());
  return make_error(res.error());
}

/// Audit entries as the log keeps them on disk (JSON, what to_json wrote),
/// read back into values. One that does not read is kept on disk and left
/// out here, with a warning: it cannot have been written by this engine.
audit_list entries(const std::vector<std::string>& texts) {
  audit_list out;
  out.reserve(texts.size());
  for (auto& text : texts) {
    if (auto e = audit_entry_from_json(text))
      out.push_back(std::move(*e));
    else
      OPTISCHEMA_WARN("store: an audit entry does not read as one: {:.80}",
                      text);
  }
  return out;
}

/// What a recommendation's status may be (analysis/recommendation.hpp).
bool known_status(const std::string& s) {
  return s == "new" || s == "tested" || s == "applied" || s == "rolled_back"
    || s == "dismissed" || s == "failed";
}

/// Takes `theirs` (a decision from the fleet) into our recommendation with
/// its id if it is newer; true if it changed ours.
bool take_decision(store_state& st, recommendation& ours,
                   const recommendation& theirs) {
  // Re-analysis refreshes figures, not decisions: decided_ms orders them.
  if (ours.decided_ms >= theirs.decided_ms)
    return false;
  adopt_decision(ours, theirs);
  ++st.decisions_adopted;
  return true;
}

/// In a fleet: queues `entry` for the fleet's audit log (the engine's own
/// has it already, synced).
void to_fleet(store_actor::stateful_pointer<store_state> self,
              const audit_entry& entry) {
  if (self->state.book)
    self->state.book->record(entry.target, to_json(entry));
}

/// A page of this engine's own audit log.
audit_page own_audit(store_actor::stateful_pointer<store_state> self,
                     size_t limit, size_t offset) {
  auto page = self->state.db->audit(offset, limit);
  audit_page out;
  out.total = page.total;
  out.entries = entries(page.entries);
  return out;
}

/// Metrics events of one target handed over per message, and read back at
/// most per adoption: the newest of a longer gap (six hours of 30 s polls,
/// one of 5 s ones; about 15 MB with a top 50), so an engine that takes a
/// third of a thousand targets over reads each one's recent past, one
/// target at a time, rather than a day of each.
constexpr size_t backfill_batch = 256;
constexpr size_t backfill_max_events = 720;
constexpr size_t backfill_max_bytes = 64 << 20;

/// Keeps the history in metrics events other engines of the fleet published
/// about `target` up to `until_ms`. Bytes from NATS are not trusted: an
/// event is kept only if it reads as one (parse_event, read_metrics_payload).
void backfill(store_actor::stateful_pointer<store_state> self,
              const std::string& target, int64_t until_ms,
              const std::vector<std::string>& events) {
  auto& st = self->state;
  auto subject = "optischema." + target + ".metrics";
  auto now = now_ms();
  for (auto& text : events) {
    auto ev = parse_event(subject, text);
    auto slice = ev ? read_metrics_payload(ev->payload)
                    : expected<history_slice>{ev.error()};
    if (!slice) {
      ++st.backfill_refused;
      OPTISCHEMA_DEBUG("store: {}", slice.error().message);
      continue;
    }
    if (slice->ts_ms > until_ms)
      continue; // this engine polls from there on
    if (auto res = st.db->put_backfill(target, *slice, now); !res) {
      OPTISCHEMA_WARN("store: {}", res.error().message);
      return;
    }
    ++st.backfilled;
    auto [i, added] = st.backfill_oldest.emplace(target, slice->ts_ms);
    if (!added)
      i->second = std::min(i->second, slice->ts_ms);
  }
}

/// Roll-ups read back at most per adoption: a month of hours of one target
/// by one engine with a top 50 is about 10 MB.
constexpr size_t rollup_max_bytes = 32 << 20;
/// Statements an hour carries into the fleet's roll-up stream, and its
/// size at most.
constexpr size_t rollup_top_n = 50;
constexpr size_t rollup_max_payload = 512 << 10;

/// Keeps the hours of `target` the fleet rolled up, before the polls read
/// back from metrics events (finer). Bytes from NATS are not trusted: a
/// roll-up is kept only if it reads as one, about this target. Of an hour
/// several engines rolled up, the one that counted the most calls is kept
/// (the others saw only part of it).
void backfill_hours(store_actor::stateful_pointer<store_state> self,
                    const std::string& target,
                    const std::vector<std::string>& texts) {
  auto& st = self->state;
  std::map<int64_t, history_slice> best;
  for (auto& text : texts) {
    auto slice = read_metrics_payload(text);
    if (!slice || slice->target != target) {
      ++st.rollups_refused;
      OPTISCHEMA_DEBUG("store: a roll-up of '{}' not taken: {}", target,
                       slice ? "another target's" : slice.error().message);
      continue;
    }
    auto& b = best[slice->ts_ms];
    if (b.ts_ms == 0 || slice->db.calls > b.db.calls)
      b = std::move(*slice);
  }
  auto now = now_ms();
  auto until = now;
  if (auto i = st.backfill_oldest.find(target); i != st.backfill_oldest.end()) {
    until = std::min(until, i->second);
    st.backfill_oldest.erase(i);
  }
  for (auto& [hour, slice] : best) {
    if (hour + slice.interval_ms > until) {
      ++st.rollups_skipped;
      continue;
    }
    auto kept = st.db->put_rollup(target, slice, now);
    if (!kept) {
      OPTISCHEMA_WARN("store: {}", kept.error().message);
      return;
    }
    ++(*kept ? st.rollups_kept : st.rollups_skipped);
  }
}

/// Takes over a target's decisions read from the fleet's bucket. Bytes from
/// NATS are not trusted: only the decision is taken (adopt_decision), onto
/// a recommendation this engine's own analysis made; one it has not made
/// yet waits for it (in memory: a restart reads the bucket again).
void adopt(store_actor::stateful_pointer<store_state> self,
           const std::string& target, const std::vector<std::string>& texts) {
  auto& st = self->state;
  size_t taken = 0;
  for (auto& text : texts) {
    auto theirs = recommendation_from_json(text);
    if (!theirs || theirs->target != target || !known_status(theirs->status)) {
      ++st.decisions_refused;
      OPTISCHEMA_WARN("store: a decision from the fleet for '{}' is not one of "
                      "its recommendations; ignored",
                      target);
      continue;
    }
    auto ours = st.db->recommendation_by_id(theirs->id);
    if (!ours) {
      if (st.waiting_decisions.size() < store_state::max_waiting_decisions)
        st.waiting_decisions[theirs->id] = std::move(*theirs);
      continue;
    }
    if (ours->target != target || !take_decision(st, *ours, *theirs))
      continue;
    if (auto res = st.db->put_recommendation(*ours); !res) {
      note_failure(self, res.error());
      continue;
    }
    ++taken;
  }
  if (taken > 0)
    OPTISCHEMA_INFO("store: took over {} decision(s) on '{}' from the fleet",
                    taken, target);
}

/// Decisions from the fleet that waited for this analysis' recommendations
/// (stored already, with this engine's own history kept).
void take_waiting_decisions(store_actor::stateful_pointer<store_state> self,
                            std::vector<recommendation>& recs) {
  auto& st = self->state;
  for (auto& r : recs)
    if (auto i = st.waiting_decisions.find(r.id);
        i != st.waiting_decisions.end()) {
      if (i->second.target == r.target && take_decision(st, r, i->second))
        if (auto res = st.db->put_recommendation(r); !res)
          note_failure(self, res.error());
      st.waiting_decisions.erase(i);
    }
}

} // namespace

store_actor::behavior_type
store(store_actor::stateful_pointer<store_state> self,
      std::shared_ptr<history_db> db,
      std::chrono::milliseconds maintenance_interval,
      std::shared_ptr<broker::decision_book> book) {
  auto& st = self->state;
  st.db = std::move(db);
  st.maintenance_interval = maintenance_interval;
  st.book = std::move(book);
  // Serve the last known numbers right after a restart.
  for (auto& target : st.db->targets())
    if (auto snap = st.db->latest(target))
      st.latest[target]
        = std::make_shared<const metrics_snapshot>(std::move(*snap));
  self->send(self, atom::maintain_v);
  auto fail = [self](const failure& f) { note_failure(self, f); };
  return {
    [self, fail](atom::put, const snapshot_ptr& snap,
                 const raw_sample_ptr& base) {
      auto& st = self->state;
      st.latest[snap->target] = snap;
      st.backlog.emplace_back(snap, base);
      st.backlog_statements += snap->statements.size();
      if (auto f = write_backlog(st))
        fail(*f);
    },
    [self](atom::get, atom::baseline,
           const std::string& target) -> raw_sample_ptr {
      if (auto x = self->state.db->baseline(target))
        return std::make_shared<const raw_sample>(std::move(*x));
      return nullptr;
    },
    [self](atom::get, atom::latest, const std::string& target) -> snapshot_ptr {
      auto& latest = self->state.latest;
      auto i = latest.find(target);
      return i != latest.end() ? i->second : nullptr;
    },
    [self](atom::get, atom::latest) {
      snapshot_list out;
      for (auto& [_, snap] : self->state.latest)
        out.push_back(snap);
      return out;
    },
    [self](atom::history, const history_request& req) -> history_reply_ptr {
      auto& db = *self->state.db;
      auto reply = std::make_shared<history_reply>();
      reply->res = req.res;
      if (req.fingerprint.empty()) {
        reply->db_points = db.database_history(req.target, req.from_ms,
                                               req.to_ms, req.res);
      } else {
        reply->points = db.history(req.target, req.fingerprint, req.from_ms,
                                   req.to_ms, req.res);
        if (auto text = db.statement_text(req.target, req.fingerprint))
          reply->query = std::move(*text);
      }
      return reply;
    },
    [self, fail](atom::put, analysis_ptr& a) -> analysis_ptr {
      auto& st = self->state;
      if (auto res = st.db->put_analysis(a->target, a->ts_ms, a->report_json,
                                         a->recommendations);
          !res)
        fail(res.error());
      else if (!st.waiting_decisions.empty())
        take_waiting_decisions(self, a->recommendations);
      return a;
    },
    [self](atom::get, atom::recommend, const std::string& target) {
      auto recs = self->state.db->recommendations(target);
      // Best first: actions before ideas, then by estimated benefit.
      std::sort(recs.begin(), recs.end(),
                [](const recommendation& x, const recommendation& y) {
                  if (x.confidence != y.confidence)
                    return x.confidence > y.confidence;
                  return x.benefit_ms_per_day > y.benefit_ms_per_day;
                });
      return recs;
    },
    [self](atom::get, atom::recommend, atom::by_id,
           const std::string& id) -> caf::result<recommendation> {
      if (auto r = self->state.db->recommendation_by_id(id))
        return std::move(*r);
      return make_error(ec::not_found,
                        "no recommendation with id '" + id
                          + "'; GET /api/suggestions/latest lists them");
    },
    [self](atom::put, atom::recommend, const std::string& id,
           const recommendation_patch& patch) -> caf::result<recommendation> {
      auto r = self->state.db->recommendation_by_id(id);
      if (!r)
        return make_error(ec::not_found,
                          "no recommendation with id '" + id
                            + "'; it may have been replaced");
      if (auto err = patch(*r))
        return make_error(*err);
      r->updated_ms = r->decided_ms = now_ms();
      if (auto res = self->state.db->put_recommendation(*r); !res)
        return make_error(res.error().code, res.error().message);
      if (self->state.book)
        self->state.book->put(r->target, r->id, to_json(*r));
      return std::move(*r);
    },
    [self](atom::adopt, const std::string& target) {
      auto& book = self->state.book;
      if (!book)
        return;
      book->load(
        target,
        [hdl = store_actor{self},
         target](expected<std::vector<std::string>> got) {
          if (got)
            caf::anon_send(hdl, atom::adopt_v, target, std::move(*got));
          else
            OPTISCHEMA_WARN("store: the decisions on '{}' could not be read "
                            "from the fleet ({}); this engine keeps its own",
                            target, got.error().message);
        });
      // History: what the fleet polled since this engine's last point, up
      // to now (its own polls take over from here); then, before that, the
      // hours the fleet rolled up (older than the events stream keeps).
      auto now = now_ms();
      self->state.backfill_oldest.erase(target);
      book->read_history(target, self->state.db->backfill_from(target, now),
                         backfill_batch, backfill_max_events,
                         backfill_max_bytes,
                         [hdl = store_actor{self}, target,
                          now](expected<std::vector<std::string>> got) {
                           if (got)
                             caf::anon_send(hdl, atom::adopt_v, atom::history_v,
                                            target, now, std::move(*got));
                           else
                             OPTISCHEMA_WARN(
                               "store: the history of '{}' could not be read "
                               "from the fleet ({}); its charts show a gap",
                               target, got.error().message);
                         });
      book->read_rollups(
        target, self->state.db->rollup_from(target, now),
        std::numeric_limits<size_t>::max(), rollup_max_bytes,
        [hdl = store_actor{self},
         target](expected<std::vector<std::string>> got) {
          if (got)
            caf::anon_send(hdl, atom::adopt_v, atom::rollup_v, target,
                           std::move(*got));
          else
            OPTISCHEMA_WARN("store: the hourly history of '{}' could not be "
                            "read from the fleet ({}); its charts show a gap",
                            target, got.error().message);
        });
    },
    [self](atom::adopt, const std::string& target,
           const std::vector<std::string>& texts) {
      adopt(self, target, texts);
    },
    [self](atom::adopt, atom::history, const std::string& target,
           int64_t until_ms, const std::vector<std::string>& events) {
      backfill(self, target, until_ms, events);
    },
    [self](atom::adopt, atom::rollup, const std::string& target,
           const std::vector<std::string>& texts) {
      backfill_hours(self, target, texts);
    },
    [self, fail](atom::put, atom::audit, const audit_entry& entry) {
      if (auto res = self->state.db->append_audit(now_ms(), to_json(entry));
          !res)
        fail(res.error());
      else
        to_fleet(self, entry);
    },
    [self](atom::put, atom::audit, atom::started, const std::string& target,
           const std::string& op,
           const audit_entry& entry) -> caf::result<bool> {
      auto res = self->state.db->begin_change(target, op, now_ms(),
                                              to_json(entry));
      if (res)
        to_fleet(self, entry);
      return synced(self, res);
    },
    [self](atom::put, atom::audit, atom::finished, const std::string& target,
           const std::string& op,
           const audit_entry& entry) -> caf::result<bool> {
      auto res = self->state.db->end_change(target, op, now_ms(),
                                            to_json(entry));
      if (res)
        to_fleet(self, entry);
      return synced(self, res);
    },
    [self](atom::get, atom::audit, atom::started, const std::string& target) {
      return entries(self->state.db->changes_in_flight(target));
    },
    [self](atom::put, atom::cleanup, const std::string& target,
           const std::string& key,
           const audit_entry& entry) -> caf::result<bool> {
      return synced(self,
                    self->state.db->put_cleanup(target, key, to_json(entry)));
    },
    [self](atom::erase, atom::cleanup, const std::string& target,
           const std::string& key) -> caf::result<bool> {
      return synced(self, self->state.db->erase_cleanup(target, key));
    },
    [self](atom::get, atom::cleanup, const std::string& target) {
      return entries(self->state.db->cleanups(target));
    },
    [self](atom::get, atom::audit, int64_t limit,
           int64_t offset) -> caf::result<audit_page> {
      auto& st = self->state;
      auto lim = static_cast<size_t>(std::max<int64_t>(limit, 0));
      auto off = static_cast<size_t>(std::max<int64_t>(offset, 0));
      if (!st.book)
        return own_audit(self, lim, off);
      auto id = ++st.audit_read_seq;
      auto rp = self->make_response_promise<audit_page>();
      st.audit_reads.emplace(id, store_state::audit_read{rp, lim, off});
      st.book->read_audit(
        lim, off,
        [hdl = store_actor{self},
         id](expected<broker::decision_book::audit_page> got) {
          if (got)
            caf::anon_send(hdl, atom::audit_v, id, std::move(got->entries),
                           got->total, std::string{});
          else
            caf::anon_send(hdl, atom::audit_v, id, std::vector<std::string>{},
                           uint64_t{0}, got.error().message);
        });
      return rp;
    },
    [self](atom::audit, uint64_t id, const std::vector<std::string>& texts,
           uint64_t total, const std::string& error) {
      auto read = take_read(self->state.audit_reads, id);
      if (!read)
        return;
      if (!error.empty()) {
        auto page = own_audit(self, read->limit, read->offset);
        page.fleet_error = error;
        read->rp.deliver(std::move(page));
        return;
      }
      audit_page page;
      page.total = total;
      page.entries = entries(texts);
      page.source = "fleet";
      read->rp.deliver(std::move(page));
    },
    [self](atom::get, atom::cache, const std::string& key) {
      return self->state.db->cache_get(key, now_ms()).value_or(std::string{});
    },
    [self, fail](atom::put, atom::cache, const std::string& key,
                 const std::string& value, int64_t ttl_ms, int64_t max_bytes) {
      if (auto res = self->state.db->cache_put(key, value, now_ms(), ttl_ms,
                                               max_bytes);
          !res)
        fail(res.error());
    },
    [self](atom::get, atom::silence) { return self->state.db->silences(); },
    [self, fail](atom::put, atom::silence, const std::string& json) {
      if (auto res = self->state.db->put_silences(json); !res)
        fail(res.error());
    },
    [self](atom::get, atom::alert,
           const std::string& target) -> caf::result<std::string> {
      auto& st = self->state;
      // The engine's own alerts are its own: no other engine takes them up.
      if (!st.book || target == engine_alerts)
        return st.db->firing(target);
      auto id = ++st.alerts_read_seq;
      auto rp = self->make_response_promise<std::string>();
      st.alerts_reads.emplace(id, store_state::alerts_read{rp, target});
      st.book->load_alerts(
        target,
        [hdl = store_actor{self}, id](expected<std::vector<std::string>> got) {
          if (got)
            caf::anon_send(hdl, atom::alert_v, id, std::move(*got),
                           std::string{});
          else
            caf::anon_send(hdl, atom::alert_v, id, std::vector<std::string>{},
                           got.error().message);
        });
      // NATS slow to answer: this engine's copy, before the ALERTER stops
      // waiting (5 s) and fires again what still holds. The answer after
      // that finds no read left.
      self->delayed_send(store_actor{self}, std::chrono::seconds{3},
                         atom::alert_v, id, std::vector<std::string>{},
                         std::string{"no answer within 3 s"});
      return rp;
    },
    [self](atom::alert, uint64_t id, const std::vector<std::string>& texts,
           const std::string& error) {
      auto read = take_read(self->state.alerts_reads, id);
      if (!read)
        return;
      if (!error.empty()) {
        OPTISCHEMA_WARN("store: the alerts firing on '{}' could not be read "
                        "from the fleet ({}); this engine's own copy is used",
                        read->target, error);
        read->rp.deliver(self->state.db->firing(read->target));
        return;
      }
      read->rp.deliver(texts.empty() ? std::string{} : texts.front());
    },
    [self, fail](atom::put, atom::alert, const std::string& target,
                 const std::string& json) {
      if (auto res = self->state.db->put_firing(target, json); !res)
        fail(res.error());
      if (self->state.book && target != engine_alerts)
        self->state.book->put_alerts(target, json);
    },
    [self, fail](atom::erase, atom::alert, const std::string& target) {
      if (auto res = self->state.db->put_firing(target, ""); !res)
        fail(res.error());
    },
    [self](atom::get, atom::spend, const std::string& day) {
      auto s = self->state.db->spent(day);
      return caf::make_result(s.tokens, s.usd);
    },
    [self, fail](atom::put, atom::spend, const std::string& day, int64_t tokens,
                 double usd) {
      if (auto res = self->state.db->add_spend(day, tokens, usd); !res)
        fail(res.error());
    },
    [self, fail](atom::maintain) {
      auto& st = self->state;
      // Also the retry of a backlog when no poll comes (targets down).
      if (!st.backlog.empty())
        if (auto f = write_backlog(st))
          fail(*f);
      // In a fleet, every hour rolled up goes to the fleet's roll-up stream
      // too, for engines that take the target over after the events stream
      // has forgotten it.
      auto res = st.db->maintain(now_ms(), st.book ? rollup_top_n : 0);
      if (res && st.book)
        for (auto& hour : res->hours) {
          // Within what NATS takes in one message (1 MB by default): texts
          // can be long, so the cheapest statements go first.
          auto payload = rollup_payload(hour.target, hour);
          while (payload.size() > rollup_max_payload
                 && !hour.statements.empty()) {
            hour.statements.pop_back();
            payload = rollup_payload(hour.target, hour);
          }
          st.book->publish_rollup(hour.target, std::move(payload));
          ++st.rollups_published;
        }
      if (!res)
        fail(res.error());
      else if (res->hourly_points_written > 0 || res->statements_forgotten > 0
               || res->audit_entries_pruned > 0
               || res->recommendations_pruned > 0)
        OPTISCHEMA_INFO("store: rolled up {} hour(s) into {} hourly points, "
                        "forgot {} statements, pruned {} audit entries and {} "
                        "recommendations past their retention",
                        res->hours_rolled, res->hourly_points_written,
                        res->statements_forgotten, res->audit_entries_pruned,
                        res->recommendations_pruned);
      self->delayed_send(self, st.maintenance_interval, atom::maintain_v);
    },
    [self](atom::status) -> status_report {
      auto& st = self->state;
      auto s = st.db->stats();
      // Decisions that cannot reach the fleet's bucket are not lost (they
      // wait, and stay here), but the next owner would not see them.
      auto b = st.book ? st.book->get_stats() : broker::decision_book::stats{};
      auto state = s.stopped || !b.last_error.empty() ? health::degraded
                                                      : health::ok;
      return make_status(state, [&](json::writer& w) {
        json::field(w, "data_dir", s.dir);
        if (s.stopped) {
          json::key(w, "message");
          json::str(w,
                    fmt::format(
                      "history writes stopped {} s ago: {}; {} poll(s) wait in "
                      "memory and are written as soon as writes work again{}",
                      (now_ms() - s.stopped_since_ms) / 1000,
                      s.no_space
                        ? "the disk holding the data dir is full: free "
                          "space there (the engine resumes by itself)"
                        : "RocksDB reported an I/O error (see last_error)",
                      st.backlog.size(),
                      st.backlog_dropped > 0
                        ? fmt::format(" ({} older ones were dropped; the next "
                                      "poll's deltas still cover them)",
                                      st.backlog_dropped)
                        : std::string{}));
        }
        json::field(w, "resumes", s.resumes);
        json::field(w, "last_resume", s.last_resume_ms);
        json::field(w, "backlog", st.backlog.size());
        json::field(w, "backlog_written", st.backlog_written);
        json::field(w, "size_bytes", s.size_bytes);
        json::field(w, "raw_points", s.raw_points);
        json::field(w, "hourly_points", s.hourly_points);
        json::field(w, "snapshots_written", s.snapshots_written);
        json::field(w, "write_failures", st.write_failures);
        json::field(w, "last_maintenance", s.last_maintenance_ms);
        json::field(w, "raw_retention_ms",
                    st.db->options().raw_retention.count());
        json::field(w, "hourly_retention_ms",
                    st.db->options().hourly_retention.count());
        auto c = st.db->llm_cache_stats();
        json::key(w, "llm_cache");
        w.StartObject();
        json::field(w, "entries", c.entries);
        json::field(w, "bytes", c.bytes);
        json::field(w, "hits", c.hits);
        json::field(w, "misses", c.misses);
        json::field(w, "evictions", c.evictions);
        json::field(w, "expired", c.expired);
        w.EndObject();
        if (!st.last_error.empty()) {
          json::field(w, "last_error", st.last_error);
        }
        if (st.book) {
          json::key(w, "decisions");
          w.StartObject();
          json::field(w, "stored", b.stored);
          json::field(w, "pending", b.pending);
          json::field(w, "failures", b.failures);
          json::field(w, "targets_read", b.loads);
          json::field(w, "adopted", st.decisions_adopted);
          json::field(w, "waiting", st.waiting_decisions.size());
          json::field(w, "refused", st.decisions_refused);
          json::field(w, "audit_stored", b.audit_stored);
          json::field(w, "audit_pending", b.audit_pending);
          json::field(w, "events_read", b.events_read);
          json::field(w, "history_backfilled", st.backfilled);
          json::field(w, "history_refused", st.backfill_refused);
          json::field(w, "hours_published", st.rollups_published);
          json::field(w, "hours_stored", b.rollups_stored);
          json::field(w, "hours_pending", b.rollups_pending);
          json::field(w, "hours_read", b.rollups_read);
          json::field(w, "hours_backfilled", st.rollups_kept);
          json::field(w, "hours_skipped", st.rollups_skipped);
          json::field(w, "hours_refused", st.rollups_refused);
          if (!b.last_error.empty())
            json::field(w, "last_error", b.last_error);
          w.EndObject();
        }
      });
    },
  };
}

} // namespace optischema::actors
