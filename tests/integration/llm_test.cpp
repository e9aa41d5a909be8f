// The LLM advisor through the engine: a scripted OpenAI-compatible endpoint
// over real HTTP (the one stand-in the standards allow), a real PostgreSQL
// 15 for plans, and a second cluster as the sandbox where rewrites' rows
// are compared.

#include "engine_process.hpp"
#include "fake_openai.hpp"
#include "harness.hpp"
#include "http_client.hpp"
#include "test_util.hpp"

#include <catch2/catch.hpp>
#include <pqxx/pqxx>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <atomic>

using namespace optischema::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* api_key = "sk-test-Secret-4242";
/// A value that lives only in the table's rows: it must never reach the
/// endpoint (inputs are plans, definitions and statistics, not data).
constexpr const char* data_value = "ZEBRA-ROW-VALUE-7";

const std::string& llm_db() {
  return harness::shared().shared_database(
    "llm",
    std::string{R"sql(
      CREATE TABLE accounts (id int PRIMARY KEY, region int NOT NULL, tier int NOT NULL,
                             owner text NOT NULL);
      INSERT INTO accounts SELECT g, g % 50, g % 7, ')sql"}
      + data_value + R"sql(' || g FROM generate_series(1, 60000) g;
      CREATE INDEX accounts_region_idx ON accounts (region);
      CREATE INDEX accounts_tier_idx ON accounts (tier);
    )sql",
    true);
}

/// The statement the tests analyse (a non-sargable predicate: the index on
/// region cannot serve `region + 0`), and rewrites of it.
constexpr const char* statement
  = "SELECT id FROM accounts WHERE region + 0 = $1";
/// Same rows, cheaper: the index serves the bare column.
constexpr const char* good_rewrite
  = "SELECT id FROM accounts WHERE region = $1";
/// Cheaper, but it loses rows.
constexpr const char* wrong_rewrite
  = "SELECT id FROM accounts WHERE region = $1 AND tier = 0";

std::string json_string(const std::string& x) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.String(x.c_str(), static_cast<rapidjson::SizeType>(x.size()));
  return {buf.GetString(), buf.GetSize()};
}

/// Which prompt a request carries (the schema's name).
std::string kind_of(const fake_openai::recorded_request& r) {
  for (auto* k : {"explain_plan", "rewrite_query", "generate_recommendation"})
    if (r.body.find(std::string{"\""} + k + "\"") != std::string::npos)
      return k;
  return "";
}

/// Good answers for every prompt kind.
fake_openai::reply
good(const fake_openai::recorded_request& r,
     std::vector<std::string> rewrites = {good_rewrite, wrong_rewrite}) {
  auto kind = kind_of(r);
  std::string content;
  if (kind == "explain_plan") {
    content
      = R"({"summary":"A bitmap OR over two indexes feeds a heap scan.",)"
        R"("steps":[{"node":"BitmapOr","explanation":"combines both arms"}],)"
        R"("bottlenecks":[],"suggestions":[{"change":"none","why":"fine"}]})";
  } else if (kind == "rewrite_query") {
    content = R"({"rewrites":[)";
    for (size_t i = 0; i < rewrites.size(); ++i)
      content += (i ? "," : "") + std::string{R"({"sql":)"}
        + json_string(rewrites[i]) + R"(,"rationale":"split the OR"})";
    content += "]}";
  } else {
    content
      = R"({"narrative":"This index serves the lookups by their key and makes them cheap.",)"
        R"("risks":["builds for a while"],"verification":"watch mean_time in pg_stat_statements"})";
  }
  return {200, fake_openai::completion(content, 150, 50)};
}

std::vector<std::string> engine_args(const fake_openai& ai,
                                     const temp_dir& data,
                                     std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"serve",
                                "--dsn",
                                harness::shared().dsn(llm_db()),
                                "--listen",
                                "127.0.0.1:0",
                                "--data-dir",
                                data.str(),
                                "--analysis-interval",
                                "0",
                                "--llm-base-url",
                                ai.base_url(),
                                "--llm-api-key",
                                api_key,
                                "--llm-timeout",
                                "2s"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

rapidjson::Document analyse(const std::string& url, bool llm = true) {
  auto body = std::string{R"({"sql": )"} + json_string(statement)
    + R"(, "llm": )" + (llm ? "true" : "false") + "}";
  auto r = http_request(url, "POST", "/api/analysis/query", body, {}, 120s);
  INFO(r.body);
  REQUIRE(r.status == 200);
  return parse_json(r.body);
}

} // namespace

TEST_CASE("LLM explanation and rewrites arrive checked: same rows or not",
          "[llm][engine]") {
  fake_openai ai;
  ai.set_handler([](const auto& r) { return good(r); });
  temp_dir data;
  auto sandbox = harness::start_private({.nats = false});
  engine_process e{
    engine_args(ai, data, {"--sandbox-dsn", sandbox->sandbox_dsn()})};
  auto url = e.wait_ready();
  auto d = analyse(url);
  auto& llm = d["llm"];
  REQUIRE(llm["status"] == "ok");
  CHECK(llm["explanation"]["summary"].IsString());
  REQUIRE(llm["rewrites"].Size() == 2);
  auto& ok = llm["rewrites"][0];
  auto& wrong = llm["rewrites"][1];
  INFO(ok["reason"].GetString());
  CHECK(ok["verified"].GetBool());
  CHECK(ok["cost_after"].GetDouble() < ok["cost_before"].GetDouble());
  CHECK_FALSE(wrong["verified"].GetBool());
  CHECK_THAT(std::string{wrong["reason"].GetString()}, Catch::Contains("rows"));
  // What went to the endpoint: the key as a bearer token, the normalised
  // statement and its plan; never the table's data.
  auto reqs = ai.requests();
  REQUIRE(reqs.size() >= 2);
  for (auto& r : reqs) {
    CHECK(r.headers["authorization"] == std::string{"Bearer "} + api_key);
    CHECK(r.body.find(data_value) == std::string::npos);
    CHECK(r.body.find("region + 0 = $1") != std::string::npos);
  }
  // A repeated request is answered from the cache: no HTTP call at all.
  auto calls = ai.calls();
  auto again = analyse(url);
  CHECK(ai.calls() == calls);
  CHECK(again["llm"]["rewrites"].Size() == 2);
  auto status = parse_json(http_get(url, "/api/status").body);
  CHECK(status["llm"]["cache_hits"].GetUint64() >= 2);
  CHECK(status["llm"]["budget"]["tokens"].GetInt64() == 400);
  // The key never leaves in a log line or an answer.
  CHECK(http_get(url, "/api/status").body.find(api_key) == std::string::npos);
  CHECK(e.stop() == 0);
  CHECK(e.log().find(api_key) == std::string::npos);
}

TEST_CASE("a slower rewrite is not advice", "[llm][engine]") {
  fake_openai ai;
  // Same rows, plus a sort nobody asked for.
  ai.set_handler([](const auto& r) {
    return good(r,
                {"SELECT id FROM accounts WHERE region + 0 = $1 ORDER BY id"});
  });
  temp_dir data;
  engine_process e{engine_args(ai, data)};
  auto url = e.wait_ready();
  auto d = analyse(url);
  REQUIRE(d["llm"]["rewrites"].Size() == 1);
  CHECK_FALSE(d["llm"]["rewrites"][0]["verified"].GetBool());
  CHECK_THAT(std::string{d["llm"]["rewrites"][0]["reason"].GetString()},
             Catch::Contains("slower"));
}

TEST_CASE("endpoint faults: 429 is retried, 500 and hangs degrade cleanly",
          "[llm][engine]") {
  fake_openai ai;
  temp_dir data;
  engine_process e{engine_args(ai, data, {"--llm-cache-ttl", "1s"})};
  auto url = e.wait_ready();
  SECTION("429 with Retry-After, then answers") {
    ai.push({429,
             fake_openai::error("slow down", "rate_limit_exceeded"),
             {{"Retry-After", "1"}}});
    ai.set_handler([](const auto& r) { return good(r); });
    auto d = analyse(url);
    CHECK(d["llm"]["status"] == "ok");
    CHECK(d["llm"]["explanation"].IsObject());
  }
  SECTION("500 until retries are exhausted") {
    ai.set_handler([](const auto&) {
      return fake_openai::reply{500,
                                fake_openai::error("boom", "server_error")};
    });
    auto d = analyse(url);
    CHECK(d["llm"]["status"] == "error");
    CHECK_THAT(std::string{d["llm"]["message"].GetString()},
               Catch::Contains("500"));
    // The engine's own analysis is all there.
    CHECK(d["statements"].Size() == 1);
  }
  SECTION("a hang past the timeout") {
    ai.set_handler([](const auto&) {
      return fake_openai::reply{200, fake_openai::completion("{}"), {}, 10s};
    });
    auto d = analyse(url);
    CHECK(d["llm"]["status"] == "error");
    CHECK_THAT(std::string{d["llm"]["message"].GetString()},
               Catch::Contains("within"));
    CHECK(http_get(url, "/health").status == 200);
  }
  SECTION("malformed JSON") {
    ai.set_handler([](const auto&) {
      return fake_openai::reply{200, "{not json"};
    });
    auto d = analyse(url);
    CHECK(d["llm"]["status"] == "error");
    CHECK_THAT(std::string{d["llm"]["message"].GetString()},
               Catch::Contains("malformed"));
  }
  SECTION("answers that fail the schema are asked once more, then dropped") {
    std::atomic<int> asked{0};
    ai.set_handler([&](const auto&) {
      ++asked;
      return fake_openai::reply{200,
                                fake_openai::completion(R"({"summary": 42})")};
    });
    auto d = analyse(url);
    CHECK(d["llm"]["status"] == "error");
    CHECK_THAT(std::string{d["llm"]["message"].GetString()},
               Catch::Contains("dropped"));
    // Both questions (explanation, rewrites), each asked once more.
    CHECK(asked.load() == 4);
    auto status = parse_json(http_get(url, "/api/status").body);
    CHECK(status["llm"]["dropped_answers"].GetUint64() >= 1);
    CHECK(status["llm"]["invalid_answers"].GetUint64() >= 2);
  }
}

TEST_CASE("the daily budget stops LLM calls and the status says so",
          "[llm][engine]") {
  fake_openai ai;
  // Each call reports 10,000 tokens: the first analysis (2 calls) spends
  // the whole budget; each question reserves far less before it is asked.
  ai.set_handler([](const auto& r) {
    auto g = good(r);
    g.body = parse_json(g.body)["choices"][0]["message"]["content"].GetString();
    g.body = fake_openai::completion(g.body, 9000, 1000);
    return g;
  });
  temp_dir data;
  engine_process e{engine_args(ai, data, {"--llm-daily-tokens", "20000"})};
  auto url = e.wait_ready();
  auto first = analyse(url); // 2 calls, 20,000 tokens: the budget is spent
  CHECK(first["llm"]["status"] == "ok");
  auto calls = ai.calls();
  // A different statement: the cache cannot answer, the budget refuses.
  auto body = std::string{
    R"({"sql": "SELECT owner FROM accounts WHERE tier = $1", "llm": true})"};
  auto r = http_request(url, "POST", "/api/analysis/query", body, {}, 120s);
  REQUIRE(r.status == 200);
  auto d = parse_json(r.body);
  CHECK(d["llm"]["status"] == "error");
  CHECK_THAT(std::string{d["llm"]["message"].GetString()},
             Catch::Contains("budget"));
  CHECK(ai.calls() == calls);
  auto status = parse_json(http_get(url, "/api/status").body);
  CHECK(status["llm"]["state"] == "degraded");
  CHECK(status["llm"]["budget"]["tokens"].GetInt64() >= 20000);
  CHECK(status["llm"]["budget_refusals"].GetUint64() >= 1);
}

TEST_CASE(
  "without a key the LLM is off, says how to turn it on, and nothing breaks",
  "[llm][engine]") {
  temp_dir data;
  engine_process e{{"serve", "--dsn", harness::shared().dsn(llm_db()),
                    "--listen", "127.0.0.1:0", "--data-dir", data.str(),
                    "--analysis-interval", "0"}};
  auto url = e.wait_ready();
  auto d = analyse(url);
  CHECK(d["llm"]["status"] == "disabled");
  CHECK_THAT(std::string{d["llm"]["message"].GetString()},
             Catch::Contains("OPENAI_API_KEY"));
  CHECK(d["statements"].Size() == 1);
  auto status = parse_json(http_get(url, "/api/status").body);
  CHECK(status["llm"]["state"] == "disabled");
}

TEST_CASE("redaction keeps literals away from the endpoint", "[llm][engine]") {
  fake_openai ai;
  ai.set_handler([](const auto& r) { return good(r, {}); });
  temp_dir data;
  engine_process e{engine_args(ai, data, {"--llm-redact-literals"})};
  auto url = e.wait_ready();
  auto body = std::string{
    R"({"sql": "SELECT id FROM accounts WHERE owner = 'Secret Owner 77' AND region = 3", "llm": true})"};
  auto r = http_request(url, "POST", "/api/analysis/query", body, {}, 120s);
  REQUIRE(r.status == 200);
  REQUIRE(ai.calls() >= 1);
  for (auto& req : ai.requests())
    CHECK(req.body.find("Secret Owner 77") == std::string::npos);
}

TEST_CASE("analysis cycles: narratives and checked rewrites, then the cache",
          "[llm][engine]") {
  auto& h = harness::shared();
  auto db = h.create_database("llmcycle");
  h.exec(
    db,
    "CREATE TABLE accounts (id int PRIMARY KEY, region int NOT NULL, score int "
    "NOT NULL); INSERT INTO accounts SELECT g, g % 50, g % 997 FROM "
    "generate_series(1, 60000) g; CREATE INDEX accounts_region_idx ON "
    "accounts (region)");
  // The load is setup, not workload: left in pg_stat_statements, its one
  // INSERT of 60,000 rows would be charged to a new index as recurring write
  // cost, and on a busy machine outweigh the SELECTs it serves.
  h.exec(db, "VACUUM (FREEZE, ANALYZE)");
  h.reset_statements(db);
  {
    pqxx::connection c{h.dsn(db)};
    pqxx::nontransaction tx{c};
    // pg_stat_statements keeps `region IS NOT DISTINCT FROM $1`: no
    // index serves it; `region = $1` is the same on a NOT NULL column.
    for (int i = 0; i < 20; ++i) {
      tx.exec("SELECT id FROM accounts WHERE region IS NOT DISTINCT FROM "
              + std::to_string(i));
      tx.exec("SELECT id FROM accounts WHERE score = " + std::to_string(i));
    }
  }
  fake_openai ai;
  ai.set_handler([](const auto& r) {
    return good(r, {good_rewrite, wrong_rewrite});
  });
  temp_dir data;
  auto sandbox = harness::start_private({.nats = false});
  engine_process e{{"serve", "--dsn", h.dsn(db), "--listen", "127.0.0.1:0",
                    "--data-dir", data.str(), "--analysis-interval", "0",
                    "--llm-base-url", ai.base_url(), "--llm-api-key", api_key,
                    "--sandbox-dsn", sandbox->sandbox_dsn(),
                    "--sandbox-auto-test", "0"}};
  auto url = e.wait_ready();
  auto suggestions = [&] {
    return parse_json(http_get(url, "/api/suggestions/latest").body);
  };
  auto run = http_request(url, "POST", "/api/analysis/run", "", {}, 120s);
  REQUIRE(run.status == 200);
  // Enrichment follows the analysis: wait for the rewrites to be stored
  // (their rows are compared on the sandbox's copy, made on first use).
  bool narrated = false;
  std::string verified_rewrite;
  auto enriched = eventually(
    [&] {
      auto d = suggestions();
      narrated = false;
      verified_rewrite.clear();
      for (auto& r : d["suggestions"].GetArray()) {
        if (std::string{r["kind"].GetString()} == "create_index"
            && std::string{r["narrative"].GetString()}.size() > 0)
          narrated = true;
        if (std::string{r["kind"].GetString()} == "rewrite"
            && r["verified"].GetBool())
          verified_rewrite = r["rewrite_sql"].GetString();
      }
      return narrated && !verified_rewrite.empty();
    },
    120s, 250ms);
  INFO("LLM calls: " << ai.calls());
  INFO(http_get(url, "/api/status").body);
  INFO(http_get(url, "/api/suggestions/latest").body);
  INFO(run.body);
  INFO(e.log());
  CHECK(enriched);
  CHECK(verified_rewrite == good_rewrite);
  // The rewrite that loses rows is kept as an unverified idea, never advice.
  bool idea = false;
  for (auto& r : suggestions()["suggestions"].GetArray())
    if (std::string{r["rewrite_sql"].GetString()} == wrong_rewrite) {
      idea = true;
      CHECK_FALSE(r["verified"].GetBool());
      CHECK(r["confidence"].GetDouble() < 0.5);
    }
  CHECK(idea);
  // An unchanged workload: the next cycle is answered by the cache.
  auto calls = ai.calls();
  REQUIRE(calls >= 3);
  REQUIRE(http_request(url, "POST", "/api/analysis/run", "", {}, 120s).status
          == 200);
  REQUIRE(eventually(
    [&] {
      auto s = parse_json(http_get(url, "/api/status").body);
      return s["llm"]["cache_hits"].GetUint64() >= calls - 1;
    },
    30s));
  CHECK(ai.calls() == calls);
}
