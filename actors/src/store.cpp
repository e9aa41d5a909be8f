#include "optischema/actors/store.hpp"

#include "optischema/analysis/json.hpp"
#include "optischema/messages/error.hpp"
#include "optischema/util/clock.hpp"
#include "optischema/util/logging.hpp"

#include <algorithm>

namespace optischema {

store_actor::behavior_type
store(store_actor::stateful_pointer<store_state> self,
      std::shared_ptr<history_db> db,
      std::chrono::milliseconds maintenance_interval) {
  auto& st = self->state;
  st.db = std::move(db);
  st.maintenance_interval = maintenance_interval;
  // Serve the last known numbers right after a restart.
  for (auto& target : st.db->targets())
    if (auto snap = st.db->latest(target))
      st.latest[target]
        = std::make_shared<const metrics_snapshot>(std::move(*snap));
  self->send(self, atom::maintain_v);
  auto fail = [self](const failure& f) {
    ++self->state.write_failures;
    self->state.last_error = f.message;
    OPTISCHEMA_ERROR("store: {}", f.message);
  };
  return {
    [self, fail](atom::put, const snapshot_ptr& snap,
                 const raw_sample_ptr& base) {
      self->state.latest[snap->target] = snap;
      if (auto res = self->state.db->put_snapshot(*snap, base.get()); !res)
        fail(res.error());
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
      if (auto res = self->state.db->put_analysis(
            a->target, a->ts_ms, a->report_json, a->recommendations);
          !res)
        fail(res.error());
      return a;
    },
    [self](atom::get, atom::suggest, const std::string& target) {
      rapidjson::StringBuffer buf;
      json::writer w{buf};
      w.StartArray();
      auto recs = self->state.db->recommendations(target);
      // Best first: actions before ideas, then by estimated benefit.
      std::sort(recs.begin(), recs.end(),
                [](const recommendation& x, const recommendation& y) {
                  if (x.confidence != y.confidence)
                    return x.confidence > y.confidence;
                  return x.benefit_ms_per_day > y.benefit_ms_per_day;
                });
      for (auto& r : recs)
        write(w, r);
      w.EndArray();
      return json::text(buf);
    },
    [self](atom::get, atom::suggest, atom::by_id,
           const std::string& id) -> caf::result<std::string> {
      if (auto r = self->state.db->recommendation_by_id(id))
        return to_json(*r);
      return make_error(ec::not_found,
                        "no recommendation with id '" + id
                          + "'; GET /api/suggestions/latest lists them");
    },
    [self](atom::put, atom::suggest, const std::string& id,
           const recommendation_patch& patch) -> caf::result<std::string> {
      auto r = self->state.db->recommendation_by_id(id);
      if (!r)
        return make_error(ec::not_found,
                          "no recommendation with id '" + id
                            + "'; it may have been replaced");
      if (auto err = patch(*r))
        return make_error(*err);
      r->updated_ms = now_ms();
      if (auto res = self->state.db->put_recommendation(*r); !res)
        return make_error(res.error().code, res.error().message);
      return to_json(*r);
    },
    [self, fail](atom::put, atom::audit, const std::string& entry) {
      if (auto res = self->state.db->append_audit(now_ms(), entry); !res)
        fail(res.error());
    },
    [self](atom::get, atom::audit, int64_t limit) {
      std::string out = "[";
      auto entries = self->state.db->audit(
        static_cast<size_t>(std::max<int64_t>(limit, 0)));
      for (size_t i = 0; i < entries.size(); ++i)
        out += (i == 0 ? "" : ",") + entries[i];
      return out + "]";
    },
    [self](atom::get, atom::audit, int64_t limit, int64_t offset) {
      auto page = self->state.db->audit(
        static_cast<size_t>(std::max<int64_t>(offset, 0)),
        static_cast<size_t>(std::max<int64_t>(limit, 0)));
      std::string out = R"({"total":)" + std::to_string(page.total)
        + R"(,"entries":[)";
      for (size_t i = 0; i < page.entries.size(); ++i)
        out += (i == 0 ? "" : ",") + page.entries[i];
      return out + "]}";
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
      if (auto res = st.db->maintain(now_ms()); !res)
        fail(res.error());
      else if (res->hourly_points_written > 0 || res->statements_forgotten > 0)
        OPTISCHEMA_INFO("store: rolled up {} hour(s) into {} hourly points, "
                        "forgot {} statements",
                        res->hours_rolled, res->hourly_points_written,
                        res->statements_forgotten);
      self->delayed_send(self, st.maintenance_interval, atom::maintain_v);
    },
    [self](atom::status) {
      auto& st = self->state;
      auto s = st.db->stats();
      rapidjson::StringBuffer buf;
      json::writer w{buf};
      w.StartObject();
      json::key(w, "state");
      w.String(st.write_failures == 0 ? "ok" : "degraded");
      json::key(w, "data_dir");
      json::str(w, s.dir);
      json::key(w, "size_bytes");
      w.Uint64(s.size_bytes);
      json::key(w, "raw_points");
      w.Uint64(s.raw_points);
      json::key(w, "hourly_points");
      w.Uint64(s.hourly_points);
      json::key(w, "snapshots_written");
      w.Uint64(s.snapshots_written);
      json::key(w, "write_failures");
      w.Uint64(st.write_failures);
      json::key(w, "last_maintenance");
      w.Int64(s.last_maintenance_ms);
      json::key(w, "raw_retention_ms");
      w.Int64(st.db->options().raw_retention.count());
      json::key(w, "hourly_retention_ms");
      w.Int64(st.db->options().hourly_retention.count());
      auto c = st.db->llm_cache_stats();
      json::key(w, "llm_cache");
      w.StartObject();
      json::key(w, "entries");
      w.Uint64(c.entries);
      json::key(w, "bytes");
      w.Uint64(c.bytes);
      json::key(w, "hits");
      w.Uint64(c.hits);
      json::key(w, "misses");
      w.Uint64(c.misses);
      json::key(w, "evictions");
      w.Uint64(c.evictions);
      json::key(w, "expired");
      w.Uint64(c.expired);
      w.EndObject();
      if (!st.last_error.empty()) {
        json::key(w, "last_error");
        json::str(w, st.last_error);
      }
      w.EndObject();
      return json::text(buf);
    },
  };
}

} // namespace optischema
