// What people decide follows a target through a fleet: a change sent to any
// engine is forwarded, signed with the API token, to the engine that polls
// the target, which keeps the decision in the fleet's JetStream bucket; the
// engine that takes the target over after a crash reads it back, so a
// dismissed index stays dismissed. Forged, replayed and unsigned changes
// on NATS are refused. Real engines, NATS and PostgreSQL (a cluster of its
// own: the analyses need their statements in pg_stat_statements).

#include "engine_process.hpp"
#include "fleet_api.hpp"
#include "harness.hpp"
#include "http_client.hpp"
#include "nats_process.hpp"
#include "test_util.hpp"

#include "optischema/analysis/json.hpp"
#include "optischema/broker/decision_book.hpp"
#include "optischema/util/clock.hpp"
#include "optischema/web/access.hpp"

#include <catch2/catch.hpp>
#include <nats/nats.h>
#include <pqxx/pqxx>

#include <fstream>
#include <future>
#include <limits>
#include <string>

using namespace optischema::test;
namespace json = optischema::json;
using namespace std::chrono_literals;

namespace {

const std::string token = "fleet-token-0123456789";

std::map<std::string, std::string> bearer() {
  return {{"Authorization", "Bearer " + token}};
}

/// Orders looked up by customer, without an index on it.
std::string shop_db(harness& h) {
  auto db = h.create_database("decide");
  h.exec(db, R"sql(
    CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int NOT NULL,
                         total numeric(10,2) NOT NULL);
    INSERT INTO orders SELECT g, 1 + (g::bigint * 7919) % 20000,
           (g % 1000) / 10.0
      FROM generate_series(1, 200000) g;
  )sql");
  h.exec(db, "VACUUM (ANALYZE)");
  h.reset_statements(db, true);
  return db;
}

void workload(harness& h, const std::string& db, int calls) {
  pqxx::connection conn{h.dsn(db)};
  pqxx::nontransaction tx{conn};
  for (int i = 0; i < calls; ++i)
    tx.exec("SELECT id, total FROM orders WHERE customer_id = "
            + std::to_string(1 + (i * 37) % 20000));
}

/// The status of the create_index advice on orders(customer_id) as `url`
/// lists it for target t, with its id ("" if not listed).
std::pair<std::string, std::string> index_advice(const std::string& url) {
  auto res = http_get(url, "/api/suggestions/latest?target=t", 10s);
  if (res.status != 200)
    return {};
  auto d = parse_json(res.body);
  for (auto& r : d["suggestions"].GetArray())
    if (std::string{r["kind"].GetString()} == "create_index"
        && std::string{r["table"].GetString()} == "orders"
        && std::string{r["columns"][0].GetString()} == "customer_id")
      return {r["id"].GetString(), r["status"].GetString()};
  return {};
}

/// Sends `request` to engine `engine`'s fleet subject as any NATS client
/// could, and returns its answer.
std::string ask_engine(natsConnection* nc, const std::string& engine,
                       const std::string& request) {
  natsMsg* reply = nullptr;
  auto subject = "optischema_api.shop." + engine;
  if (natsConnection_Request(&reply, nc, subject.c_str(), request.data(),
                             static_cast<int>(request.size()), 5000)
      != NATS_OK)
    return {};
  std::string out{natsMsg_GetData(reply),
                  static_cast<size_t>(natsMsg_GetDataLength(reply))};
  natsMsg_Destroy(reply);
  return out;
}

/// A signed change as an engine forwards it.
std::string signed_change(const std::string& key, const std::string& id,
                          const std::string& nonce, const std::string& to) {
  auto payload = R"({"method":"POST","path":"/api/suggestions/dismiss",)"
                 R"("from":"engine-x","to":)"
    + json::quote(to) + R"(,"query":{"target":"t"},"remote":"test","body":)"
    + json::quote(R"({"id":")" + id + R"("})") + R"(,"ts":)"
    + std::to_string(optischema::now_ms()) + R"(,"nonce":)" + json::quote(nonce)
    + "}";
  return R"({"signed":)" + json::quote(payload) + R"(,"sig":")"
    + optischema::web::token_signature(key, payload) + R"("})";
}

} // namespace

TEST_CASE("a decision follows its target through the fleet and changes are "
          "forwarded signed",
          "[fleet]") {
  auto h = harness::start_private();
  auto db = shop_db(*h);
  nats_process nats;
  temp_dir data_a, data_b;
  auto args = [&](const std::string& id, const temp_dir& data) {
    return std::vector<std::string>{"serve",
                                    "--fleet",
                                    "shop",
                                    "--engine-id",
                                    id,
                                    "--nats",
                                    nats.url(),
                                    "--listen",
                                    "127.0.0.1:0",
                                    "--data-dir",
                                    data.str(),
                                    "--poll-interval",
                                    "1s",
                                    "--analysis-interval",
                                    "1h",
                                    "--api-token",
                                    token,
                                    "--target",
                                    "t=" + h->dsn(db)};
  };
  auto [engines, urls, owner, other] = start_pair(args, data_a, data_b);
  auto& uo = urls[owner];
  auto& ux = urls[other];
  INFO("engine " << owner << " polls t; the test talks to " << other);

  // A change sent to the engine that does not poll t runs on the one that
  // does (its answer says so).
  workload(*h, db, 300);
  REQUIRE(http_request(ux, "POST", "/api/collect?target=t", "", bearer()).status
          == 200);
  auto run = http_request(ux, "POST", "/api/analysis/run?target=t", "",
                          bearer(), 120s);
  INFO(run.body);
  REQUIRE(run.status == 200);
  CHECK(run.headers["x-optischema-engine"] == owner);
  auto [id, status] = index_advice(ux);
  REQUIRE_FALSE(id.empty());
  CHECK(status == "new");

  auto dismiss = [&](const std::string& path, bool with_token) {
    return http_request(
      ux, "POST", path, R"({"id":")" + id + R"("})",
      with_token ? bearer() : std::map<std::string, std::string>{}, 30s);
  };
  // Without the token: refused here, nothing forwarded.
  CHECK(dismiss("/api/suggestions/dismiss?target=t", false).status == 401);
  // Without its target, an engine that never polled t cannot know where
  // the id belongs, and says what to send.
  auto lost = dismiss("/api/suggestions/dismiss", true);
  CHECK(lost.status == 404);
  CHECK_THAT(lost.body, Catch::Contains("?target="));
  auto done = dismiss("/api/suggestions/dismiss?target=t", true);
  INFO(done.body);
  CHECK(done.status == 200);
  CHECK(done.headers["x-optischema-engine"] == owner);
  CHECK(parse_json(done.body)["status"].GetString()
        == std::string{"dismissed"});
  CHECK(index_advice(uo).second == "dismissed");
  // The owner's audit log names who asked, through which engine.
  CHECK_THAT(http_get(uo, "/api/audit?limit=5").body,
             Catch::Contains("fleet:" + other));

  // The fleet's subject is open to any NATS client: changes there need
  // the token's signature, once.
  natsConnection* nc = nullptr;
  REQUIRE(natsConnection_ConnectTo(&nc, nats.url().c_str()) == NATS_OK);
  auto unsigned_post = R"({"method":"POST","path":"/api/suggestions/dismiss",)"
                       R"("from":"x","body":"{}"})";
  CHECK_THAT(ask_engine(nc, owner, unsigned_post),
             Catch::Contains("only GET is forwarded unsigned"));
  CHECK_THAT(
    ask_engine(nc, owner,
               signed_change("wrong-token", id, "0123456789abcdef0", owner)),
    Catch::Contains("signature does not match"));
  // Signed for the other engine, sent to this one.
  CHECK_THAT(ask_engine(nc, owner,
                        signed_change(token, id, "0123456789abcdef2", other)),
             Catch::Contains("signed for engine"));
  auto once = signed_change(token, id, "0123456789abcdef1", owner);
  CHECK_THAT(ask_engine(nc, owner, once), Catch::Contains(R"(\"dismissed\")"));
  CHECK_THAT(ask_engine(nc, owner, once), Catch::Contains("replay"));

  // Whoever can write the decisions bucket cannot make an engine run DDL:
  // a "newer decision" carrying other DDL gives its status, never its SQL;
  // a status no engine writes is refused.
  jsCtx* js = nullptr;
  REQUIRE(natsConnection_JetStream(&js, nc, nullptr) == NATS_OK);
  kvStore* kv = nullptr;
  REQUIRE(js_KeyValue(&kv, js, "optischema_decisions_shop") == NATS_OK);
  auto rec = parse_json(http_get(uo, "/api/suggestions/" + id).body);
  auto own_ddl = std::string{rec["ddl"].GetString()};
  REQUIRE_THAT(own_ddl, Catch::StartsWith("CREATE INDEX"));
  auto forged = [&](const std::string& rec_id, const std::string& status) {
    return R"({"id":")" + rec_id
      + R"(","kind":"create_index","target":"t","status":")" + status
      + R"(","ddl":"DROP TABLE orders","rollback_ddl":"DROP TABLE orders",)"
        R"("decided":)"
      + std::to_string(std::numeric_limits<int64_t>::max() / 2) + "}";
  };
  auto put = [&](const std::string& rec_id, const std::string& value) {
    return kvStore_PutString(
      nullptr, kv, optischema::broker::decision_book::key("t", rec_id).c_str(),
      value.c_str());
  };
  REQUIRE(put(id, forged(id, "dismissed")) == NATS_OK);
  REQUIRE(put("00000000000000ff", forged("00000000000000ff", "owned"))
          == NATS_OK);
  kvStore_Destroy(kv);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);

  // The decision reached the fleet's bucket before the crash.
  REQUIRE(eventually([&] { return decisions_stored(uo); }, 10s));
  engines[owner]->kill9();
  REQUIRE(eventually([&] { return owner_of(ux, "t") == other; }, 10s));
  // The new owner analyses t itself: the same advice, still dismissed.
  workload(*h, db, 100);
  REQUIRE(
    http_request(ux, "POST", "/api/analysis/run?target=t", "", bearer(), 120s)
      .status
    == 200);
  CHECK(
    eventually([&] { return index_advice(ux).second == "dismissed"; }, 10s));
  auto taken = parse_json(http_get(ux, "/api/suggestions/" + id).body);
  CHECK(std::string{taken["ddl"].GetString()} == own_ddl);
  CHECK(std::string{taken["rollback_ddl"].GetString()} != "DROP TABLE orders");
  auto d = parse_json(http_get(ux, "/api/status").body);
  CHECK(d["store"]["decisions"]["adopted"].GetInt64() >= 1);
  CHECK(d["store"]["decisions"]["refused"].GetInt64() >= 1);
  // The audit log is the fleet's: the dead owner's change (its own log is
  // on its disk) is read from JetStream by the engine left.
  std::string body;
  auto fleet_log = [&] {
    body = http_get(ux, "/api/audit?limit=50").body;
    return parse_json(body);
  };
  auto dismissed_by_owner = [](const rapidjson::Document& log) {
    for (auto& e : log["entries"].GetArray())
      if (std::string{e["action"].GetString()} == "dismiss"
          && std::string{e["target"].GetString()} == "t"
          && std::string{e["who"].GetString()}.find("fleet:")
            != std::string::npos)
        return true;
    return false;
  };
  auto log = fleet_log();
  INFO(body);
  CHECK(std::string{log["source"].GetString()} == "fleet");
  CHECK(dismissed_by_owner(log));
  // NATS away: the engine's own log, and why the fleet's is not shown.
  nats.stop();
  log = fleet_log();
  CHECK(std::string{log["source"].GetString()} == "engine");
  CHECK(log.HasMember("fleet_error"));
  CHECK_FALSE(dismissed_by_owner(log));
}

TEST_CASE("an entry too big for NATS is dropped and does not hold up the "
          "decisions behind it",
          "[fleet][nats]") {
  // A server that takes 8 KB per message; a statement's text (any size a
  // database user wrote) can make a decision, an audit entry or an hour of
  // history larger than that.
  temp_dir dir;
  auto conf = (dir.path / "nats.conf").string();
  std::ofstream{conf} << "max_payload: 8192\n";
  nats_process nats{{true, {"-c", conf}}};
  auto book = optischema::broker::decision_book::create({nats.url(), "big"});
  REQUIRE(book);
  auto& b = **book;
  std::string big(20'000, 'x');
  b.record("t", R"({"text":")" + big + R"("})");
  b.record("t", R"({"text":"small"})");
  b.put("t", "big1", R"({"id":"big1","text":")" + big + R"("})");
  b.put("t", "small1", R"({"id":"small1"})");
  b.publish_rollup("t", R"({"text":")" + big + R"("})");
  b.publish_rollup("t", R"({"target":"t"})");
  optischema::broker::decision_book::stats s;
  CHECK(eventually(
    [&] {
      s = b.get_stats();
      return s.pending == 0 && s.audit_pending == 0 && s.rollups_pending == 0;
    },
    15s));
  CHECK(s.stored == 1);
  CHECK(s.audit_stored == 1);
  CHECK(s.rollups_stored == 1);
  CHECK(s.failures >= 3);
  // What was stored reads back.
  std::promise<
    optischema::expected<optischema::broker::decision_book::audit_page>>
    page;
  b.read_audit(10, 0, [&](auto got) { page.set_value(std::move(got)); });
  auto fut = page.get_future();
  REQUIRE(fut.wait_for(15s) == std::future_status::ready);
  auto got = fut.get();
  REQUIRE(got);
  REQUIRE(got->entries.size() == 1);
  CHECK(got->entries[0] == R"({"text":"small"})");
}
