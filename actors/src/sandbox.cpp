#include "optischema/actors/sandbox.hpp"

#include "optischema/analysis/audit.hpp"
#include "optischema/analysis/fingerprint.hpp"
#include "optischema/analysis/json.hpp"
#include "optischema/messages/error.hpp"
#include "optischema/util/clock.hpp"
#include "optischema/util/logging.hpp"
#include "optischema/util/strings.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace optischema::actors {

namespace {

using self_ptr = sandbox_actor::stateful_pointer<sandbox_state>;

/// Why there is nothing to test on: no --sandbox-dsn (then `server` is
/// unset).
failure no_sandbox() {
  return {ec::disabled,
          "no sandbox configured: pass --sandbox-dsn (a separate PostgreSQL "
          "whose role may CREATE DATABASE) to prove advice on a copy"};
}

/// The target's schema is compared with the copy's at most this often.
constexpr auto signature_ttl = std::chrono::seconds{30};
constexpr auto store_timeout = std::chrono::seconds{10};
/// After a failed copy, tests reuse its failure this long (a forced
/// preparation tries at once).
constexpr auto copy_retry_after = std::chrono::minutes{10};

/// The copy's database: named after the target and a hash of its address,
/// so engines sharing a sandbox server never drop each other's copies.
std::string database_for(const std::string& target,
                         const std::string& address) {
  // Target names are [A-Za-z0-9_-]; 63 bytes at most in all.
  return fmt::format("optischema_sandbox_{}_{:08x}", target.substr(0, 34),
                     fnv1a(address) & 0xffffffff);
}

/// Whether `query` names `table` as a word (case-insensitive): the hot
/// statements on the changed table are those a new index can slow down.
bool mentions(const std::string& query, const std::string& table) {
  auto q = lower(query);
  auto t = lower(table);
  auto word = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  };
  for (auto at = q.find(t); at != std::string::npos; at = q.find(t, at + 1)) {
    auto before_ok = at == 0 || !word(q[at - 1]);
    auto end = at + t.size();
    auto after_ok = end >= q.size() || !word(q[end]);
    if (before_ok && after_ok)
      return true;
  }
  return false;
}

/// Statements an index can make slower or faster: queries and writes, not
/// utility statements (the copy's own COPY and pg_dump's LOCKs show up in
/// the target's pg_stat_statements too).
bool timeable(const std::string& query) {
  auto type = single_statement_type(reparsable_sql(query));
  return type
    && (*type == "SelectStmt" || *type == "InsertStmt" || *type == "UpdateStmt"
        || *type == "DeleteStmt");
}

/// The copy, made or refreshed when missing, forced or stale.
expected<sandbox::prepared> ensure_copy(self_ptr self, bool force) {
  auto& st = self->state;
  if (!st.server)
    return no_sandbox();
  auto now = std::chrono::steady_clock::now();
  if (st.copy && !force) {
    if (now - st.signature_checked < signature_ttl)
      return *st.copy;
    auto sig = sandbox::schema_signature(*st.source);
    if (!sig)
      return sig.error();
    st.signature_checked = now;
    if (*sig == st.copy->signature)
      return *st.copy;
    OPTISCHEMA_INFO("sandbox/{}: the target's schema changed; copying again",
                    st.target);
  }
  if (!force && st.copy_failure && now - st.copy_failed < copy_retry_after)
    return failure{st.copy_failure->code,
                   st.copy_failure->message
                     + " (the copy is retried 10 minutes after the failure, "
                       "or now with POST /api/sandbox/prepare)"};
  OPTISCHEMA_INFO("sandbox/{}: copying {} to {}/{}", st.target,
                  st.source->display, st.server->display, st.database);
  auto copy = sandbox::prepare(*st.source, *st.server, st.database, st.opts);
  if (!copy) {
    st.copy.reset();
    st.copy_failure = copy.error();
    st.copy_failed = now;
    return copy.error();
  }
  st.copy_failure.reset();
  ++st.preparations;
  st.copy = *copy;
  st.signature_checked = now;
  OPTISCHEMA_INFO("sandbox/{}: copied {} tables, {} rows ({:.4g}%) in {} ms",
                  st.target, copy->tables, copy->rows, copy->percent,
                  copy->duration_ms);
  return *copy;
}

void record_failure(self_ptr self, const failure& f) {
  auto& st = self->state;
  ++st.failures;
  st.last_error = f;
  OPTISCHEMA_WARN("sandbox/{}: {}", st.target, f.message);
}

void audit(self_ptr self, const recommendation& r, const std::string& outcome,
           int64_t duration_ms, const std::string& error,
           std::vector<std::string> steps) {
  audit_entry e;
  e.ts_ms = now_ms();
  e.who = "sandbox";
  e.action = "test";
  e.target = r.target;
  e.recommendation_id = r.id;
  e.kind = r.kind;
  e.ddl = r.ddl;
  e.outcome = outcome;
  e.duration_ms = duration_ms;
  e.error = error;
  e.steps = std::move(steps);
  self->send(self->state.peers.store, atom::put_v, atom::audit_v, e);
}

/// Runs the test once the recommendation and the workload are known.
void run_test(self_ptr self, recommendation r, std::vector<std::string> others,
              caf::typed_response_promise<recommendation> rp) {
  auto& st = self->state;
  auto copy = ensure_copy(self, false);
  if (!copy) {
    record_failure(self, copy.error());
    audit(self, r, "failed", 0, copy.error().message, {});
    rp.deliver(make_error(copy.error()));
    return;
  }
  auto db = sandbox::database_conninfo(*st.server, st.database);
  if (!db) {
    rp.deliver(make_error(db.error()));
    return;
  }
  auto res = sandbox::test(*db, r, others, st.opts);
  ++st.tests;
  recommendation_patch patch;
  if (!res) {
    record_failure(self, res.error());
    audit(self, r, "failed", 0, res.error().message, {});
    patch = [msg = "sandbox: " + res.error().message](recommendation& x) {
      x.last_error = msg;
      return std::optional<failure>{};
    };
  } else {
    res->copy = *copy;
    st.last_error.reset();
    st.last_verdict = res->verdict;
    audit(self, r, "tested", res->duration_ms, {},
          {res->verdict + ": " + res->summary});
    // Applied to the stored version: someone may have applied or dismissed
    // it while the test ran, and that decision stands.
    patch = [json = to_json(*res), speedup = res->speedup](recommendation& x) {
      x.sandbox = json;
      x.measured_speedup = speedup;
      weigh_sandbox_verdict(x);
      x.last_error.clear();
      if (x.status == "new" || x.status == "failed" || x.status == "tested")
        x.status = "tested";
      return std::optional<failure>{};
    };
  }
  self
    ->request(st.peers.store, store_timeout, atom::put_v, atom::recommend_v,
              r.id, std::move(patch))
    .then(
      [self, rp, ok = static_cast<bool>(res),
       err = res ? failure{} : res.error()](recommendation& stored) mutable {
        if (!ok) {
          rp.deliver(make_error(err));
          return;
        }
        event ev{event_type::recommendation, self->state.target, now_ms(),
                 to_json(stored)};
        for (auto& sink : self->state.peers.sinks)
          self->send(sink, atom::publish_v, ev);
        rp.deliver(std::move(stored));
      },
      [rp](const caf::error& err) mutable { rp.deliver(err); });
}

/// A rewrite's rows and its original's, compared on the copy (made first
/// when needed).
caf::result<rows_check> compare_on_copy(self_ptr self,
                                        const std::string& original,
                                        const std::string& rewrite) {
  auto& st = self->state;
  if (!st.server)
    return make_error(no_sandbox());
  auto copy = ensure_copy(self, false);
  if (!copy) {
    record_failure(self, copy.error());
    return make_error(copy.error());
  }
  auto db = sandbox::database_conninfo(*st.server, st.database);
  if (!db)
    return make_error(db.error());
  auto rows = sandbox::compare_rewrite(*db, original, rewrite, st.opts);
  if (!rows) {
    record_failure(self, rows.error());
    return make_error(rows.error());
  }
  return std::move(*rows);
}

} // namespace

sandbox_actor::behavior_type
sandbox(sandbox_actor::stateful_pointer<sandbox_state> self,
        target_config target, sandbox_config cfg, sandbox_peers peers) {
  auto& st = self->state;
  st.target = target.name;
  st.peers = std::move(peers);
  st.opts.pg_bin_dir = cfg.pg_bin_dir;
  st.opts.full_copy_max_bytes = cfg.full_copy_max_bytes;
  st.opts.sample_percent = cfg.sample_percent;
  st.opts.runs = cfg.runs;
  st.opts.samples = cfg.samples;
  st.other_statements = cfg.other_statements;
  if (cfg.server) {
    st.source = target.changes();
    st.server = *cfg.server;
    st.database = database_for(target.name, st.source->display);
  }
  return {
    [self](atom::prepare, bool force) -> caf::result<sandbox::prepared> {
      auto copy = ensure_copy(self, force);
      if (!copy) {
        record_failure(self, copy.error());
        return make_error(copy.error());
      }
      self->state.last_error.reset();
      return std::move(*copy);
    },
    [self](atom::test, const std::string& id) -> caf::result<recommendation> {
      auto& st = self->state;
      if (!st.server)
        return make_error(no_sandbox());
      auto rp = self->make_response_promise<recommendation>();
      self
        ->request(st.peers.store, store_timeout, atom::get_v, atom::recommend_v,
                  atom::by_id_v, id)
        .then(
          [self, rp](recommendation& r) mutable {
            if (r.target != self->state.target) {
              rp.deliver(
                make_error(ec::bad_request,
                           "the recommendation belongs to target " + r.target));
              return;
            }
            self
              ->request(self->state.peers.store, store_timeout, atom::get_v,
                        atom::latest_v, self->state.target)
              .then(
                [self, rp, r](const snapshot_ptr& snap) mutable {
                  // The hottest other statements on the changed table.
                  std::vector<const statement_metrics*> xs;
                  if (snap)
                    for (auto& s : snap->statements)
                      if (!s.parse_error && mentions(s.query, r.table)
                          && timeable(s.query))
                        xs.push_back(&s);
                  std::sort(xs.begin(), xs.end(), [](auto* a, auto* b) {
                    return a->total.exec_time_ms > b->total.exec_time_ms;
                  });
                  std::vector<std::string> others;
                  for (auto* x : xs)
                    if (others.size() < self->state.other_statements)
                      others.push_back(x->query);
                  run_test(self, std::move(r), std::move(others), rp);
                },
                [self, rp, r](const caf::error&) mutable {
                  run_test(self, std::move(r), {}, rp);
                });
          },
          [rp](const caf::error& err) mutable { rp.deliver(err); });
      return rp;
    },
    [self](atom::verify, const std::string& original,
           const std::string& rewrite) -> caf::result<rows_check> {
      return compare_on_copy(self, original, rewrite);
    },
    [self](atom::status) -> status_report {
      auto& st = self->state;
      auto state = !st.server ? health::disabled
        : st.last_error       ? health::degraded
                              : health::ok;
      return make_status(state, [&](json::writer& w) {
        if (st.server) {
          json::field(w, "server", st.server->display);
        }
        json::field(w, "database", st.database);
        json::key(w, "copy");
        if (st.copy) {
          auto c = to_json(*st.copy);
          w.RawValue(c.data(), c.size(), rapidjson::kObjectType);
        } else {
          w.Null();
        }
        json::field(w, "preparations", st.preparations);
        json::field(w, "tests", st.tests);
        json::field(w, "failures", st.failures);
        json::field(w, "last_verdict", st.last_verdict);
        json::field(w, "error", st.server ? st.last_error : no_sandbox());
      });
    },
  };
}

} // namespace optischema::actors
