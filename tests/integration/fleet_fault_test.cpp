// The fleet under faults: three nats-server nodes clustered with JetStream
// (buckets on three replicas), three engines, thirty databases, a workload,
// and for a minute engines killed with -9 and NATS servers stopped at random
// (one fault at a time), each restarted a few seconds later. Checked while
// it runs and after: no target goes long without a poll (the bound below
// says how long and why); once it has settled,
// one engine polls each target and every engine answers for every target;
// no interval of pg_stat_statements is counted twice (the deltas the engines
// stored, each poll once, add up to at most what the view counted; only the
// takeovers' gaps are missing) and the owner has them all (it fills its
// history from the others' metrics events); a dismissed recommendation stays
// dismissed after its target moved. The seed is printed: a failure replays with
// OPTISCHEMA_FAULT_SEED.

#include "engine_process.hpp"
#include "harness.hpp"
#include "http_client.hpp"
#include "nats_process.hpp"
#include "test_util.hpp"

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace optischema::test;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

const std::string token = "fault-token-0123456789";
constexpr int n_targets = 30;
// Two seconds: a JetStream leader election after a NATS server stops takes
// about one, and no engine can take a target over while it runs.
constexpr auto poll_interval = 2s;
const char* lookup = "SELECT id, total FROM orders WHERE customer_id = ";

std::map<std::string, std::string> bearer() {
  return {{"Authorization", "Bearer " + token}};
}

std::string target_name(int i) {
  return "t" + std::to_string(i);
}

/// The targets an engine polls now, by its own word (not the fleet's).
std::set<std::string> claims(const std::string& url) {
  std::set<std::string> out;
  http_result res;
  try {
    res = http_get(url, "/api/status?local=1", 2s);
  } catch (const std::exception&) {
    return out; // killed while asked
  }
  if (res.status != 200)
    return out;
  auto d = parse_json(res.body);
  for (auto& t : d["targets"].GetArray())
    if (!t["standby"].GetBool())
      out.insert(t["name"].GetString());
  return out;
}

/// The create_index advice on orders(customer_id) of t0 as `url` lists it:
/// id and status ("" when not listed).
std::pair<std::string, std::string> index_advice(const std::string& url) {
  auto res = http_get(url, "/api/suggestions/latest?target=t0", 10s);
  if (res.status != 200)
    return {};
  auto d = parse_json(res.body);
  for (auto& r : d["suggestions"].GetArray())
    if (std::string{r["kind"].GetString()} == "create_index"
        && std::string{r["table"].GetString()} == "orders")
      return {r["id"].GetString(), r["status"].GetString()};
  return {};
}

class fault_fleet {
public:
  fault_fleet() : h_(harness::start_private(harness_options{false, true})) {
    auto shop = h_->create_database("fault");
    h_->exec(shop, R"sql(
      CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int NOT NULL,
                           total numeric(10,2) NOT NULL);
      INSERT INTO orders SELECT g, 1 + (g::bigint * 7919) % 20000,
             (g % 1000) / 10.0 FROM generate_series(1, 200000) g;
    )sql");
    h_->exec(shop, "VACUUM (ANALYZE)");
    h_->reset_statements(shop, true);
    dbs_.push_back(shop);
    for (int i = 1; i < n_targets; ++i)
      dbs_.push_back(h_->create_database("fault"));
    // Three servers routed to each other; JetStream needs their names.
    std::vector<int> cluster_ports;
    std::string routes;
    for (int i = 0; i < 3; ++i) {
      cluster_ports.push_back(closed_port());
      routes += (i ? "," : "") + std::string{"nats://127.0.0.1:"}
        + std::to_string(cluster_ports.back());
    }
    for (int i = 0; i < 3; ++i) {
      nats_process_options o;
      o.extra_args = {"--server_name",
                      "n" + std::to_string(i),
                      "--cluster_name",
                      "optischema",
                      "--cluster",
                      "nats://127.0.0.1:" + std::to_string(cluster_ports[i]),
                      "--routes",
                      routes};
      nats.push_back(std::make_unique<nats_process>(o));
      nats_url += (i ? "," : "") + nats.back()->url();
    }
  }

  harness& h() {
    return *h_;
  }
  const std::string& db(int i) const {
    return dbs_[static_cast<size_t>(i)];
  }

  std::vector<std::string> args(const std::string& id, const temp_dir& data,
                                int port) const {
    std::vector<std::string> a{"serve",
                               "--fleet",
                               "fault",
                               "--engine-id",
                               id,
                               "--nats",
                               nats_url,
                               "--fleet-replicas",
                               "3",
                               "--listen",
                               "127.0.0.1:" + std::to_string(port),
                               "--data-dir",
                               data.str(),
                               "--poll-interval",
                               "2s",
                               "--analysis-interval",
                               "1h",
                               "--api-token",
                               token};
    for (int i = 0; i < n_targets; ++i) {
      a.push_back("--target");
      a.push_back(target_name(i) + "=" + h_->dsn(dbs_[static_cast<size_t>(i)]));
    }
    return a;
  }

  std::vector<std::unique_ptr<nats_process>> nats;
  std::string nats_url;

private:
  std::unique_ptr<harness> h_;
  std::vector<std::string> dbs_;
};

/// The engines, restartable, each on a port of its own across restarts: the
/// watcher asks a restarting engine too (it may poll before it says it is
/// ready).
class engines {
public:
  explicit engines(fault_fleet& f) : f_(f) {
    for (auto id : {"engine-a", "engine-b", "engine-c"}) {
      data_[id] = std::make_unique<temp_dir>();
      auto port = closed_port();
      ports_[id] = port;
      urls_[id] = "http://127.0.0.1:" + std::to_string(port);
      start(id);
    }
  }

  void start(const std::string& id) {
    auto p
      = std::make_unique<engine_process>(f_.args(id, *data_[id], ports_[id]));
    p->wait_ready(30s);
    std::lock_guard lock{mtx_};
    procs_[id] = std::move(p);
  }

  void kill9(const std::string& id) {
    std::lock_guard lock{mtx_};
    procs_[id]->kill9();
  }

  /// Every engine's URL (a killed one's answers nothing).
  std::map<std::string, std::string> urls() const {
    return urls_;
  }

  std::string log(const std::string& id) const {
    std::lock_guard lock{mtx_};
    return procs_.at(id)->log();
  }

private:
  fault_fleet& f_;
  std::map<std::string, std::unique_ptr<temp_dir>> data_;
  mutable std::mutex mtx_;
  std::map<std::string, std::unique_ptr<engine_process>> procs_;
  std::map<std::string, int> ports_;
  std::map<std::string, std::string> urls_; ///< fixed at construction
};

/// Who polls each target, by every live engine's word; true when each is
/// polled by exactly one engine.
bool settled(const engines& e, std::map<std::string, std::string>* owner) {
  std::map<std::string, std::vector<std::string>> by;
  for (auto& [id, url] : e.urls())
    for (auto& t : claims(url))
      by[t].push_back(id);
  if (by.size() != n_targets)
    return false;
  // Every engine has joined: each polls a share (rendezvous hashing gives
  // each of three some of thirty).
  std::set<std::string> pollers;
  for (auto& [t, ids] : by)
    pollers.insert(ids.begin(), ids.end());
  if (pollers.size() != e.urls().size())
    return false;
  for (auto& [t, ids] : by) {
    if (ids.size() != 1)
      return false;
    if (owner)
      (*owner)[t] = ids.front();
  }
  return true;
}

} // namespace

TEST_CASE("a fleet keeps every target polled once through crashes of engines "
          "and NATS servers",
          "[fleet][fault]") {
  fault_fleet f;
  engines e{f};
  std::map<std::string, std::string> owner;
  REQUIRE(eventually([&] { return settled(e, &owner); }, 30s, 250ms));

  // A workload on t0, counted by pg_stat_statements from zero.
  std::atomic<bool> stop_load{false};
  std::thread load{[&] {
    pqxx::connection conn{f.h().dsn(f.db(0))};
    pqxx::nontransaction tx{conn};
    for (int i = 0; !stop_load; ++i) {
      tx.exec(lookup + std::to_string(1 + (i * 37) % 20000));
      std::this_thread::sleep_for(5ms);
    }
  }};

  // A decision before the faults: t0's index advice dismissed.
  std::this_thread::sleep_for(3s);
  auto any = e.urls().begin()->second;
  auto run = http_request(any, "POST", "/api/analysis/run?target=t0", "",
                          bearer(), 120s);
  INFO(run.body);
  REQUIRE(run.status == 200);
  auto [id, status] = index_advice(any);
  REQUIRE_FALSE(id.empty());
  REQUIRE(http_request(any, "POST", "/api/suggestions/dismiss?target=t0",
                       R"({"id":")" + id + R"("})", bearer(), 30s)
            .status
          == 200);
  REQUIRE(index_advice(any).second == "dismissed");
  auto first_owner_of_t0 = owner["t0"];

  // While the faults run: when each target was polled, by any engine. Each
  // engine's own counters and last poll time, sampled; when a sample was
  // missed (an engine busy or restarting), the polls in between are spread
  // evenly over the time between the two samples.
  std::atomic<bool> stop_watch{false};
  std::map<std::string, std::vector<std::pair<int64_t, std::string>>>
    polled_at;                     // target -> (when, by which engine)
  std::vector<std::string> events; // what the faults did, when
  auto wall_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
  };
  auto watch_from = wall_ms();
  std::thread watch{[&] {
    std::map<std::pair<std::string, std::string>, std::pair<int64_t, int64_t>>
      seen; // (engine, target) -> (polls, last_success)
    while (!stop_watch) {
      for (auto& [eid, url] : e.urls()) {
        http_result res;
        try {
          res = http_get(url, "/api/status?local=1", 2s);
        } catch (const std::exception&) {
          continue;
        }
        if (res.status != 200)
          continue;
        auto d = parse_json(res.body);
        for (auto& t : d["targets"].GetArray()) {
          std::string name = t["name"].GetString();
          auto polls = t["polls"].GetInt64();
          auto at = t["last_success"].GetInt64();
          auto& [n, last] = seen[{eid, name}];
          if (polls > n && at > 0) {
            auto k = n > 0 && last > 0 ? polls - n : 1;
            for (int64_t j = 1; j <= k; ++j)
              polled_at[name].emplace_back(
                k == 1 ? at : last + j * (at - last) / k, eid);
          }
          n = polls;
          last = at;
        }
      }
      std::this_thread::sleep_for(100ms);
    }
  }};

  // A minute of faults, one at a time; the first kills t0's engine so that
  // the decision has to follow it.
  uint64_t seed = std::random_device{}();
  if (auto* s = std::getenv("OPTISCHEMA_FAULT_SEED"))
    seed = std::strtoull(s, nullptr, 10);
  INFO("seed " << seed);
  std::mt19937_64 rng{seed};
  auto pick = [&](int n) {
    return static_cast<int>(std::uniform_int_distribution<>{0, n - 1}(rng));
  };
  std::vector<std::string> ids{"engine-a", "engine-b", "engine-c"};
  int engine_kills = 0, nats_stops = 0;
  /// When each NATS server was down (wall ms, from stop to start).
  std::vector<std::pair<int64_t, int64_t>> nats_down;
  std::chrono::milliseconds takeover{0};
  auto deadline = clock_type::now() + 60s;
  for (bool first = true; clock_type::now() < deadline; first = false) {
    if (first) {
      // The decision follows t0: the engine that takes it over analyses it
      // and keeps the advice dismissed.
      e.kill9(first_owner_of_t0);
      events.push_back(std::to_string(wall_ms()) + " kill -9 "
                       + first_owner_of_t0);
      auto killed_at = clock_type::now();
      ++engine_kills;
      std::string taker;
      REQUIRE(eventually(
        [&] {
          for (auto& [eid, url] : e.urls())
            if (claims(url).count("t0"))
              taker = url;
          return !taker.empty();
        },
        10s, 50ms));
      takeover = std::chrono::duration_cast<std::chrono::milliseconds>(
        clock_type::now() - killed_at);
      auto again = http_request(taker, "POST", "/api/analysis/run?target=t0",
                                "", bearer(), 120s);
      INFO(again.body);
      CHECK(again.status == 200);
      CHECK(index_advice(taker).second == "dismissed");
      e.start(first_owner_of_t0);
      events.push_back(std::to_string(wall_ms()) + " started "
                       + first_owner_of_t0);
    } else if (pick(5) < 3) {
      auto victim = ids[static_cast<size_t>(pick(3))];
      e.kill9(victim);
      events.push_back(std::to_string(wall_ms()) + " kill -9 " + victim);
      ++engine_kills;
      std::this_thread::sleep_for(std::chrono::milliseconds{2000 + pick(2000)});
      e.start(victim);
      events.push_back(std::to_string(wall_ms()) + " started " + victim);
    } else {
      auto n = pick(3);
      auto& node = f.nats[static_cast<size_t>(n)];
      node->stop();
      auto stopped_at = wall_ms();
      events.push_back(std::to_string(stopped_at) + " stopped NATS n"
                       + std::to_string(n));
      ++nats_stops;
      std::this_thread::sleep_for(std::chrono::milliseconds{3000 + pick(2000)});
      node->start();
      nats_down.emplace_back(stopped_at, wall_ms());
      events.push_back(std::to_string(wall_ms()) + " started NATS n"
                       + std::to_string(n));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{2000 + pick(2000)});
  }
  INFO(engine_kills << " engines killed, " << nats_stops
                    << " NATS servers stopped; t0 taken over "
                    << takeover.count() << " ms after kill -9");

  // Settled again: one engine per target, every engine agreeing.
  REQUIRE(eventually([&] { return settled(e, &owner); }, 30s, 250ms));
  auto watch_to = wall_ms();
  stop_watch = true;
  watch.join();
  {
    // Between two polls: the interval since the old owner's last poll, the
    // key's TTL (one interval) and the heartbeat that notices (a third),
    // plus a poll's own time.
    std::string worst, around;
    int64_t most = 0;
    // (The gap nearest its bound; none yet.)
    int64_t most_allowed = std::numeric_limits<int64_t>::max() / 2;
    auto base = 4 * std::chrono::milliseconds{poll_interval}.count() + 1000;
    // A gap that spans a NATS server's outage may last that outage longer:
    // an owner connected to the stopped server cannot renew its lease and
    // stops polling (never two owners), and the others cannot take over
    // before its key expires on the servers left ("except during the
    // outage itself").
    auto allowed = [&](int64_t from, int64_t to) {
      auto extra = int64_t{0};
      for (auto [down, up] : nats_down)
        extra += std::max<int64_t>(0, std::min(to, up) - std::max(from, down));
      return base + extra;
    };
    for (int i = 0; i < n_targets; ++i) {
      auto t = target_name(i);
      auto& xs = polled_at[t];
      xs.emplace_back(watch_from, "(start)");
      xs.emplace_back(watch_to, "(end)");
      std::sort(xs.begin(), xs.end());
      for (size_t j = 1; j < xs.size(); ++j)
        if (xs[j - 1].first >= watch_from
            && xs[j].first - xs[j - 1].first
                - allowed(xs[j - 1].first, xs[j].first)
              > most - most_allowed) {
          most = xs[j].first - xs[j - 1].first;
          most_allowed = allowed(xs[j - 1].first, xs[j].first);
          worst = t;
          around = xs[j - 1].second + " at " + std::to_string(xs[j - 1].first)
            + ", then " + xs[j].second + " at " + std::to_string(xs[j].first);
        }
    }
    std::string log;
    for (auto& x : events)
      log += x + "\n";
    INFO("faults:\n" << log << "polls around the gap: " << around);
    INFO("the gap closest to its bound: " << most << " ms (" << worst
                                          << "), allowed " << most_allowed);
    // Measured: 4.8-5.7 s in most runs; up to 7.2 s in about one run of
    // ten, when a takeover followed a NATS server's restart by seconds (the
    // survivors saw the dead engine's key expire late); 10.4 and 10.6 s
    // once each when the owner's NATS server was stopped (down 4.4 s).
    // Bounded here at four intervals and a second, plus any NATS outage the
    // gap spans; README's figures say which is which.
    CHECK(most <= most_allowed);
  }

  // Only the owner's counters move.
  auto polls = [&](const std::string& url) {
    std::map<std::string, int64_t> out;
    auto d = parse_json(http_get(url, "/api/status?local=1").body);
    for (auto& t : d["targets"].GetArray())
      out[t["name"].GetString()] = t["polls"].GetInt64();
    return out;
  };
  auto urls = e.urls();
  REQUIRE(urls.size() == 3);
  std::map<std::string, std::map<std::string, int64_t>> before, after;
  for (auto& [eid, url] : urls)
    before[eid] = polls(url);
  std::this_thread::sleep_for(3 * poll_interval);
  for (auto& [eid, url] : urls)
    after[eid] = polls(url);
  for (int i = 0; i < n_targets; ++i) {
    auto t = target_name(i);
    for (auto& [eid, _] : urls) {
      INFO(t << " on " << eid << ", owned by " << owner[t]);
      if (eid == owner[t])
        CHECK(after[eid][t] > before[eid][t]);
      else
        CHECK(after[eid][t] == before[eid][t]);
    }
  }

  // Every engine answers for every target (forwarding where it must).
  int answered = 0;
  for (auto& [eid, url] : urls)
    for (int i = 0; i < n_targets; ++i)
      answered += http_get(url,
                           "/api/metrics/hot?limit=1&target=" + target_name(i))
                    .status
        == 200;
  CHECK(answered == 3 * n_targets);

  // No interval counted twice: what the engines stored of the lookup's
  // calls adds up to at most what pg_stat_statements counted.
  stop_load = true;
  load.join();
  std::this_thread::sleep_for(3 * poll_interval);
  auto counted = std::stoll(f.h().exec(
    f.db(0),
    "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN "
    "pg_database d ON d.oid = s.dbid WHERE d.datname = current_database() "
    "AND s.query LIKE 'SELECT id, total FROM orders WHERE customer_id%'")[0]
                                                                         [0]);
  std::string fingerprint;
  {
    auto hot = parse_json(
      http_get(urls.begin()->second, "/api/metrics/hot?limit=5&target=t0")
        .body);
    for (auto& s : hot["statements"].GetArray())
      if (std::string{s["query"].GetString()}.find("FROM orders WHERE")
          != std::string::npos)
        fingerprint = s["fingerprint"].GetString();
  }
  REQUIRE_FALSE(fingerprint.empty());
  // Engines fill their history from each other's metrics events, so one
  // poll's point may be in several engines' stores, with the time of that
  // poll: the union over poll times is what the fleet stored.
  std::map<int64_t, int64_t> by_poll;
  int64_t owners_own = 0;
  for (auto& [eid, url] : urls) {
    auto d = parse_json(http_get(url,
                                 "/api/metrics/history?local=1&target=t0&"
                                 "range=1h&resolution=raw&fingerprint="
                                   + fingerprint)
                          .body);
    for (auto& p : d["points"].GetArray()) {
      by_poll[p["ts"].GetInt64()] = p["calls"].GetInt64();
      if (eid == owner["t0"])
        owners_own += p["calls"].GetInt64();
    }
  }
  int64_t stored = 0;
  for (auto& [ts, calls] : by_poll)
    stored += calls;
  INFO("calls counted by pg_stat_statements "
       << counted << ", stored " << stored << ", by t0's owner " << owners_own);
  CHECK(stored <= counted);
  // What is missing are the takeovers' gaps: a few seconds of a minute.
  CHECK(stored >= counted / 2);
  // The owner has it all: its polls, and the others' since it last polled.
  CHECK(owners_own >= counted / 2);

  // And it is still dismissed where t0 is polled at the end.
  auto now_owner = urls.at(owner["t0"]);
  REQUIRE(http_request(now_owner, "POST", "/api/analysis/run?target=t0", "",
                       bearer(), 120s)
            .status
          == 200);
  CHECK(index_advice(now_owner).second == "dismissed");
}
