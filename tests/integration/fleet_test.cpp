// A fleet of engines sharing targets over a real NATS JetStream: each target
// polled by exactly one live engine, taken over after kill -9 within two
// poll intervals, handed over at once on a graceful stop, given back when
// the engine returns. Real engines (processes), real PostgreSQL databases.

#include "engine_process.hpp"
#include "harness.hpp"
#include "http_client.hpp"
#include "nats_process.hpp"
#include "test_util.hpp"

#include "optischema/store/history_db.hpp"

#include <catch2/catch.hpp>
#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace optischema::test;
using namespace std::chrono_literals;

namespace {

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

struct target_view {
  bool standby = false;
  std::string owner;
  int64_t polls = 0;
};

/// What an engine says of each target (its own view, not the fleet's):
/// who polls it, and its polls.
std::map<std::string, target_view> targets_of(const std::string& url) {
  std::map<std::string, target_view> out;
  auto res = http_get(url, "/api/status?local=1", 5s);
  if (res.status != 200)
    return out;
  auto d = parse_json(res.body);
  for (auto& t : d["targets"].GetArray()) {
    target_view v;
    if (t.HasMember("standby") && t["standby"].IsBool())
      v.standby = t["standby"].GetBool();
    if (t.HasMember("owner") && t["owner"].IsString())
      v.owner = t["owner"].GetString();
    v.polls = t["polls"].GetInt64();
    out[t["name"].GetString()] = v;
  }
  return out;
}

/// The targets `engine` polls (not standing by, and it says it owns them).
std::vector<std::string> polled_by(const std::string& url,
                                   const std::string& engine) {
  std::vector<std::string> out;
  for (auto& [name, v] : targets_of(url))
    if (!v.standby && v.owner == engine)
      out.push_back(name);
  return out;
}

/// How long until `engine` (at `url`) polls all six targets of the test.
std::chrono::milliseconds until_polls_all(const std::string& url,
                                          const std::string& engine) {
  auto start = std::chrono::steady_clock::now();
  REQUIRE(eventually([&] { return polled_by(url, engine).size() == 6; }, 10s,
                     20ms));
  return std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::steady_clock::now() - start);
}

class fleet_fixture {
public:
  fleet_fixture() {
    auto& h = harness::shared();
    for (int i = 0; i < 6; ++i)
      dsns_.push_back("t" + std::to_string(i) + "="
                      + h.dsn(h.create_database("fleet")));
  }

  std::vector<std::string> args(const std::string& id,
                                const temp_dir& data) const {
    std::vector<std::string> a{"serve",       "--fleet",  "shop",
                               "--engine-id", id,         "--nats",
                               nats.url(),    "--listen", "127.0.0.1:0",
                               "--data-dir",  data.str(), "--poll-interval",
                               "1s"};
    // No analyses: fewer entries in the shared cluster's pg_stat_statements
    // (other tests count theirs).
    a.push_back("--analysis-interval");
    a.push_back("1h");
    for (auto& d : dsns_) {
      a.push_back("--target");
      a.push_back(d);
    }
    return a;
  }

  nats_process nats;

private:
  std::vector<std::string> dsns_;
};

/// engine-z, a member of fleet "shop" that is no engine: it heartbeats in
/// the fleet's bucket, so engines give it a share of the targets, and its
/// connection `nc` does on NATS whatever a test wants of it.
struct stand_in {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  kvStore* kv = nullptr;
  std::atomic<bool> stop{false};
  std::thread beat;

  explicit stand_in(const std::string& url) {
    REQUIRE(natsConnection_ConnectTo(&nc, url.c_str()) == NATS_OK);
    REQUIRE(natsConnection_JetStream(&js, nc, nullptr) == NATS_OK);
    REQUIRE(eventually(
      [&] { return js_KeyValue(&kv, js, "optischema_fleet_shop") == NATS_OK; },
      10s));
    beat = std::thread{[this] {
      while (!stop) {
        kvStore_PutString(nullptr, kv, "engine-z", "{}");
        std::this_thread::sleep_for(200ms);
      }
    }};
  }

  /// Once the engine at `url` has given engine-z a share: a target of
  /// engine-z's and one of the engine's.
  std::pair<std::string, std::string> share(const std::string& url) {
    std::string theirs, mine;
    REQUIRE(eventually(
      [&] {
        auto d = parse_json(http_get(url, "/api/targets").body);
        if (!d.HasMember("owners"))
          return false;
        for (auto& o : d["owners"].GetObject())
          (std::string{o.value.GetString()} == "engine-z" ? theirs : mine)
            = o.name.GetString();
        return !theirs.empty() && !mine.empty();
      },
      10s));
    return {theirs, mine};
  }

  ~stand_in() {
    stop = true;
    beat.join();
    kvStore_Destroy(kv);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
  }
};

/// engine-a alone in fleet "shop", with engine-z beside it.
struct engine_a_and_z {
  fleet_fixture f;
  temp_dir data;
  engine_process a{f.args("engine-a", data)};
  std::string ua = a.wait_ready();
  stand_in z{f.nats.url()};
};

} // namespace

TEST_CASE("a fleet gives each target to one engine, takes it over after a "
          "crash and hands it over on a stop",
          "[fleet]") {
  fleet_fixture f;
  temp_dir data_a, data_b;
  engine_process a{f.args("engine-a", data_a)};
  auto ua = a.wait_ready();
  std::optional<engine_process> b{std::in_place, f.args("engine-b", data_b)};
  auto ub = b->wait_ready();
  // Converged: both engines agree on every owner, each target has exactly
  // one engine polling it, and both engines have a share.
  std::vector<std::string> share_a, share_b;
  REQUIRE(eventually(
    [&] {
      share_a = polled_by(ua, "engine-a");
      share_b = polled_by(ub, "engine-b");
      auto ta = targets_of(ua), tb = targets_of(ub);
      if (ta.size() != 6 || tb.size() != 6)
        return false;
      for (auto& [name, v] : ta)
        if (v.owner.empty() || v.owner != tb[name].owner
            || v.standby == tb[name].standby)
          return false;
      return share_a.size() + share_b.size() == 6;
    },
    15s));
  INFO("engine-a polls " << share_a.size() << ", engine-b " << share_b.size());
  CHECK_FALSE(share_a.empty());
  CHECK_FALSE(share_b.empty());
  // Standing by is no fault: each engine's status is ok, its standby
  // targets "disabled" (not "starting", which would degrade it).
  CHECK(eventually(
    [&] {
      auto d = parse_json(http_get(ua, "/api/status").body);
      for (auto& t : d["targets"].GetArray())
        if (t["standby"].GetBool()
            && std::string{t["state"].GetString()} != "disabled")
          return false;
      return std::string{d["state"].GetString()} == "ok";
    },
    10s));
  // Ready: each engine has polled its own share.
  CHECK(eventually([&] { return http_get(ua, "/health/ready").status == 200; },
                   10s));
  CHECK(eventually([&] { return http_get(ub, "/health/ready").status == 200; },
                   10s));
  // One API: engine-a answers for engine-b's targets by asking engine-b
  // (and says so), for its own from its own store.
  {
    auto& theirs = share_b.front();
    auto res = http_get(ua, "/api/metrics/hot?limit=5&target=" + theirs);
    INFO(res.body);
    CHECK(res.status == 200);
    CHECK(res.headers["x-optischema-engine"] == "engine-b");
    auto direct = http_get(ub, "/api/metrics/hot?limit=5&target=" + theirs);
    CHECK(parse_json(res.body)["limit"].GetInt()
          == parse_json(direct.body)["limit"].GetInt());
    CHECK(parse_json(res.body).HasMember("statements"));
    auto mine = http_get(ua,
                         "/api/metrics/hot?limit=5&target=" + share_a.front());
    CHECK(mine.status == 200);
    CHECK(mine.headers.count("x-optischema-engine") == 0);
    // Errors come back as the owner gave them.
    auto bad = http_get(ua, "/api/metrics/hot?limit=0&target=" + theirs);
    CHECK(bad.status == 400);
    CHECK(bad.headers["x-optischema-engine"] == "engine-b");
    // A list without a target is the fleet's: every engine's part, each
    // for the targets it polls, merged; the status shows each target as
    // its owner sees it.
    auto all = parse_json(http_get(ua, "/api/metrics/hot?limit=50").body);
    CHECK(all["polled"].MemberCount() == 6);
    CHECK(all["gathered"]["answered"].Size() == 2);
    CHECK(all["gathered"]["unanswered"].Size() == 0);
    auto status = parse_json(http_get(ub, "/api/status").body);
    for (auto& t : status["targets"].GetArray()) {
      INFO(t["name"].GetString());
      CHECK_FALSE(t["standby"].GetBool());
    }
    CHECK(status["gathered"]["answered"].Size() == 2);
    // Every engine lists every target with its owner.
    auto listed = parse_json(http_get(ub, "/api/targets").body);
    auto& owners = listed["owners"];
    CHECK(std::string{owners[theirs.c_str()].GetString()} == "engine-b");
    CHECK(std::string{owners[share_a.front().c_str()].GetString()}
          == "engine-a");
  }
  // The WebSocket carries the fleet's events: engine-a's clients see
  // engine-b's targets polled (relayed from NATS), each event once.
  {
    ws_client ws{ua};
    REQUIRE(subscribe(ws, R"({"type":"subscribe","topics":["metrics"]})"));
    std::set<std::string> seen;
    std::set<std::pair<std::string, int64_t>> frames;
    bool twice = false;
    auto start = std::chrono::steady_clock::now();
    while (seen.size() < 6 && std::chrono::steady_clock::now() - start < 5s)
      if (auto frame = ws.read(1s)) {
        auto ev = parse_json(*frame);
        std::string target = ev["target"].GetString();
        seen.insert(target);
        twice |= !frames.emplace(target, ev["ts"].GetInt64()).second;
      }
    CHECK(seen.size() == 6);
    CHECK_FALSE(twice);
    auto edge = parse_json(http_get(ua, "/api/status?local=1").body);
    CHECK(edge["web"]["fleet_events"]["relayed"].GetInt64() > 0);
  }
  // Only the owner polls: the standby side's counters stand still.
  auto b_only_from = wall_ms();
  auto before = targets_of(ua);
  std::this_thread::sleep_for(2500ms);
  auto after = targets_of(ua);
  for (auto& t : share_b) {
    CHECK(after[t].polls == before[t].polls);
  }
  for (auto& t : share_a)
    CHECK(after[t].polls > before[t].polls);

  // kill -9: engine-b's key expires, engine-a polls everything within two
  // poll intervals (a slack of 1 s for a loaded machine's scheduling).
  auto b_only_to = wall_ms();
  b->kill9();
  auto takeover = until_polls_all(ua, "engine-a");
  INFO("takeover after kill -9 took " << takeover.count() << " ms");
  CHECK(takeover <= 3s);
  // engine-a fills its history of engine-b's targets from engine-b's
  // metrics events: its charts show the seconds only engine-b polled.
  {
    auto& theirs = share_b.front();
    auto window = "/api/metrics/history?resolution=raw&target=" + theirs
      + "&from=" + std::to_string(b_only_from)
      + "&to=" + std::to_string(b_only_to);
    size_t points = 0;
    CHECK(eventually(
      [&] {
        auto d = parse_json(http_get(ua, window).body);
        points = d.HasMember("points") ? d["points"].Size() : 0;
        return points >= 2;
      },
      10s));
    INFO(points << " points backfilled");
    auto status = http_get(ua, "/api/status?local=1").body;
    INFO(status);
    auto d = parse_json(status);
    CHECK(d["store"]["decisions"]["history_backfilled"].GetInt64() >= 2);
  }
  auto polls_at_takeover = targets_of(ua);
  REQUIRE(eventually(
    [&] {
      auto now = targets_of(ua);
      for (auto& t : share_b)
        if (now[t].polls <= polls_at_takeover[t].polls)
          return false;
      return true;
    },
    5s));

  // engine-b returns (same id): it gets its share back, engine-a stands by.
  b.emplace(f.args("engine-b", data_b));
  ub = b->wait_ready();
  REQUIRE(eventually(
    [&] {
      return polled_by(ub, "engine-b") == share_b
        && polled_by(ua, "engine-a") == share_a;
    },
    10s));

  // A graceful stop deletes engine-b's key: engine-a takes over at its next
  // heartbeat (a third of a poll interval), well before the key would
  // expire.
  CHECK(b->stop() == 0);
  auto handover = until_polls_all(ua, "engine-a");
  INFO("handover after a stop took " << handover.count() << " ms");
  // (A key missing from a listing is looked up by name: a deleted one
  // counts at once, no grace.)
  CHECK(handover <= 1000ms);
  // The fleet's status names the members and the owners.
  auto d = parse_json(http_get(ua, "/api/status").body);
  CHECK(std::string{d["fleet"]["state"].GetString()} == "ok");
  CHECK(d["fleet"]["members"].Size() == 1);
  CHECK(d["fleet"]["ownership_changes"].GetInt64() >= 3);
  CHECK_THAT(http_get(ua, "/metrics").body,
             Catch::Contains("optischema_fleet_members 1"));
}

TEST_CASE("two engines with one engine id are told so", "[fleet]") {
  fleet_fixture f;
  temp_dir d1, d2;
  engine_process one{f.args("twin", d1)};
  engine_process two{f.args("twin", d2)};
  auto u1 = one.wait_ready(), u2 = two.wait_ready();
  // Each overwrites the other's key: both see a revision they did not
  // write, say so in the status and degrade.
  auto told = [](const std::string& url) {
    auto d = parse_json(http_get(url, "/api/status").body);
    auto& fl = d["fleet"];
    return fl.HasMember("error") && fl["error"].IsString()
      && std::string{fl["error"].GetString()}.find(
           "another engine uses the engine id 'twin'")
      != std::string::npos
      && std::string{fl["state"].GetString()} == "degraded";
  };
  CHECK(eventually([&] { return told(u1) || told(u2); }, 10s));
}

TEST_CASE("a fleet without NATS is refused with what to do", "[fleet]") {
  temp_dir data;
  auto out = shell_output(engine_binary() + " serve --fleet shop --dsn "
                          + "'host=127.0.0.1 dbname=x' --data-dir " + data.str()
                          + " --check-config 2>&1; echo rc=$?");
  CHECK_THAT(out, Catch::Contains("--fleet needs --nats"));
  CHECK_THAT(out, Catch::Contains("rc=2"));
  auto bad = shell_output(engine_binary()
                          + " serve --fleet 'shop floor' --nats "
                            "nats://127.0.0.1:4222 --dsn 'host=127.0.0.1 "
                            "dbname=x' --data-dir "
                          + data.str() + " --check-config 2>&1; echo rc=$?");
  CHECK_THAT(bad, Catch::Contains("--fleet may hold only letters"));
  CHECK_THAT(bad, Catch::Contains("rc=2"));
}

TEST_CASE("an answer from the fleet cannot split the response it becomes",
          "[fleet]") {
  // A stand-in for engine-z: it heartbeats in the fleet's bucket, so
  // engine-a gives it some targets, and answers every forwarded request
  // with a content type that would smuggle a header in.
  engine_a_and_z t;
  auto& ua = t.ua;
  auto* nc = t.z.nc;
  natsSubscription* sub = nullptr;
  auto answer = [](natsConnection* c, natsSubscription*, natsMsg* m, void*) {
    std::string evil
      = R"({"status":200,"content_type":"text/plain\r\nSet-Cookie: stolen=1","body":"hi"})";
    natsConnection_Publish(c, natsMsg_GetReply(m), evil.data(),
                           static_cast<int>(evil.size()));
    natsMsg_Destroy(m);
  };
  REQUIRE(natsConnection_Subscribe(&sub, nc, "optischema_api.shop.engine-z",
                                   answer, nullptr)
          == NATS_OK);
  auto [theirs, mine] = t.z.share(ua);
  auto res = http_get(ua, "/api/metrics/hot?target=" + theirs);
  CHECK(res.status == 502);
  CHECK(res.headers.count("set-cookie") == 0);
  CHECK_THAT(res.body, Catch::Contains("answered garbage"));
  natsSubscription_Destroy(sub);
}

TEST_CASE("the WebSocket relays the fleet's events and nothing else from "
          "NATS",
          "[fleet]") {
  // engine-z is a stand-in that heartbeats (so it owns some targets) and
  // publishes on optischema.> as anyone on NATS can: well-formed events for
  // its targets reach engine-a's clients, the rest does not.
  engine_a_and_z t;
  auto& ua = t.ua;
  auto* nc = t.z.nc;
  auto [theirs, mine] = t.z.share(ua);
  auto send = [&](const std::string& subject, const std::string& data,
                  const char* fleet, const char* engine) {
    natsMsg* m = nullptr;
    REQUIRE(natsMsg_Create(&m, subject.c_str(), nullptr, data.data(),
                           static_cast<int>(data.size()))
            == NATS_OK);
    if (fleet != nullptr)
      natsMsgHeader_Set(m, "Optischema-Fleet", fleet);
    if (engine != nullptr)
      natsMsgHeader_Set(m, "Optischema-Engine", engine);
    REQUIRE(natsConnection_PublishMsg(nc, m) == NATS_OK);
    natsMsg_Destroy(m);
  };
  auto alert = [](const std::string& target, const std::string& mark) {
    return R"({"type":"alert","target":")" + target
      + R"(","ts":1,"payload":{"mark":")" + mark + R"("}})";
  };
  auto subject = [](const std::string& target) {
    return "optischema." + target + ".alert";
  };
  ws_client ws{ua};
  REQUIRE(subscribe(ws, R"({"type":"subscribe","topics":["alert"]})"));
  // Not relayed: garbage, another fleet's, nobody's, this engine's own
  // target (its events reach the clients directly), a target of no fleet,
  // a frame whose envelope names another target than its subject.
  send(subject(theirs), "{\"type\":\"alert\",", "shop", "engine-z");
  send(subject(theirs), alert(theirs, "other fleet"), "other", "engine-z");
  send(subject(theirs), alert(theirs, "no headers"), nullptr, nullptr);
  send(subject(mine), alert(mine, "own target"), "shop", "engine-z");
  send(subject("nowhere"), alert("nowhere", "unknown"), "shop", "engine-z");
  send(subject(mine), alert(theirs, "wrong subject"), "shop", "engine-z");
  // Relayed: engine-z's event about its own target, as it was sent.
  send(subject(theirs), alert(theirs, "relayed"), "shop", "engine-z");
  auto frame = ws.read(5s);
  REQUIRE(frame);
  auto ev = parse_json(*frame);
  CHECK(std::string{ev["target"].GetString()} == theirs);
  CHECK(std::string{ev["payload"]["mark"].GetString()} == "relayed");
  CHECK_FALSE(ws.read(1s)); // nothing else came through
  auto status = parse_json(http_get(ua, "/api/status?local=1").body);
  auto& counts = status["web"]["fleet_events"];
  CHECK(counts["relayed"].GetInt64() == 1);
  // Garbage, own target, unknown target, wrong subject; the other
  // fleet's and the unmarked one are not this fleet's to count.
  CHECK(counts["refused"].GetInt64() == 4);
  CHECK(http_get(ua, "/health/live").status == 200);
}

TEST_CASE("hours one engine rolled up reach the engine that takes its "
          "targets over",
          "[fleet]") {
  // engine-a polled t0..t5 from five to two hours ago (its data dir says
  // so): as it starts, its maintenance rolls those hours up and publishes
  // them to the fleet's roll-up stream. engine-b, new, takes its share of
  // the targets and fills their hours from there.
  constexpr int64_t hour = 3'600'000;
  constexpr int64_t step = 600'000;
  const std::string fp = "feedfacecafe0001";
  const std::string text = "SELECT note FROM seeded WHERE id = $1";
  fleet_fixture f;
  temp_dir data_a, data_b;
  auto first = (wall_ms() / hour - 5) * hour;
  {
    optischema::store_options o;
    o.dir = data_a.str();
    auto db = optischema::history_db::open(o);
    REQUIRE(db);
    for (int t = 0; t < 6; ++t)
      for (auto ts = first + step; ts < first + 3 * hour; ts += step) {
        optischema::metrics_snapshot s;
        s.target = "t" + std::to_string(t);
        s.ts_ms = ts;
        s.interval_ms = step;
        auto& st = s.statements.emplace_back();
        st.fingerprint = fp;
        st.query = text;
        st.queryids = {1};
        st.total.calls = 1000;
        st.interval.calls = 5;
        st.interval.exec_time_ms = 2.5;
        REQUIRE((*db)->put_snapshot(s));
      }
  }
  engine_process a{f.args("engine-a", data_a)};
  auto ua = a.wait_ready();
  auto decisions = [](const std::string& url) {
    auto d = parse_json(http_get(url, "/api/status?local=1").body);
    rapidjson::Document out;
    out.CopyFrom(d["store"]["decisions"], out.GetAllocator());
    return out;
  };
  REQUIRE(eventually(
    [&] { return decisions(ua)["hours_stored"].GetInt64() >= 18; }, 15s));

  engine_process b{f.args("engine-b", data_b)};
  auto ub = b.wait_ready();
  std::vector<std::string> mine;
  REQUIRE(eventually(
    [&] {
      mine = polled_by(ub, "engine-b");
      return !mine.empty();
    },
    10s));
  // The database series: the seeded hours (five points in the first,
  // six in the others, five calls each), hourly.
  auto window = "&from=" + std::to_string(first)
    + "&to=" + std::to_string(first + 3 * hour);
  std::string body;
  CHECK(eventually(
    [&] {
      body = http_get(ub,
                      "/api/metrics/history?resolution=hourly&target="
                        + mine.front() + window)
               .body;
      auto d = parse_json(body);
      return d.HasMember("points") && d["points"].Size() == 3;
    },
    10s));
  INFO(body);
  auto d = parse_json(body);
  REQUIRE(d["points"].Size() == 3);
  CHECK(d["points"][0]["ts"].GetInt64() == first);
  CHECK(d["points"][0]["calls"].GetInt64() == 25);
  CHECK(d["points"][1]["calls"].GetInt64() == 30);
  CHECK(d["points"][2]["calls"].GetInt64() == 30);
  // The statement's hours and its text came along.
  auto st
    = parse_json(http_get(ub,
                          "/api/metrics/history?resolution=hourly&target="
                            + mine.front() + "&fingerprint=" + fp + window)
                   .body);
  CHECK(st["points"].Size() == 3);
  CHECK(std::string{st["query"].GetString()} == text);
  auto counts = decisions(ub);
  CHECK(counts["hours_backfilled"].GetInt64()
        >= 3 * static_cast<int64_t>(mine.size()));
  CHECK(counts["hours_refused"].GetInt64() == 0);
  CHECK(a.stop() == 0);
  CHECK(b.stop() == 0);
}
