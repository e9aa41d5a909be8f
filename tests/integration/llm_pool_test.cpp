// The LLM actor under load: a fixed pool of call threads, a bounded queue,
// and a daily budget reserved before each call, so that many questions at
// once can neither grow the engine's threads nor overrun the budget. A
// scripted OpenAI-compatible endpoint over real HTTP, a real PostgreSQL.

#include "engine_process.hpp"
#include "fake_openai.hpp"
#include "harness.hpp"
#include "http_client.hpp"
#include "test_util.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <future>
#include <mutex>

using namespace optischema::test;
using namespace std::chrono_literals;

namespace {

/// Targets with a table each: every target has its own ADVISOR, so
/// questions of several targets overlap.
std::vector<std::string> pool_targets(size_t n) {
  static std::vector<std::string> names;
  static std::mutex mtx;
  std::lock_guard<std::mutex> guard{mtx};
  auto& h = harness::shared();
  while (names.size() < n) {
    auto db = h.create_database("llmpool");
    h.exec(db,
           "CREATE TABLE orders (id int PRIMARY KEY, customer int, "
           "total numeric); INSERT INTO orders SELECT g, g % 500, g "
           "FROM generate_series(1, 20000) g; ANALYZE orders");
    names.push_back(db);
  }
  return {names.begin(), names.begin() + static_cast<long>(n)};
}

/// A valid answer for every prompt kind, with fixed token usage.
fake_openai::reply answer(const fake_openai::recorded_request& r,
                          std::chrono::milliseconds delay) {
  std::string content;
  if (r.body.find("\"explain_plan\"") != std::string::npos)
    content = R"({"summary":"A sequential scan of orders.","steps":[],)"
              R"("bottlenecks":[],"suggestions":[]})";
  else if (r.body.find("\"rewrite_query\"") != std::string::npos)
    content = R"({"rewrites":[]})";
  else
    content = R"({"narrative":"An index on customer serves it.","risks":[],)"
              R"("verification":"watch mean_time"})";
  fake_openai::reply out{200, fake_openai::completion(content, 1000, 500)};
  out.delay = delay;
  return out;
}

std::vector<std::string> args(const fake_openai& ai, const temp_dir& data,
                              const std::vector<std::string>& targets,
                              std::vector<std::string> extra) {
  auto& h = harness::shared();
  std::vector<std::string> a{"serve",
                             "--listen",
                             "127.0.0.1:0",
                             "--data-dir",
                             data.str(),
                             "--analysis-interval",
                             "0",
                             "--llm-base-url",
                             ai.base_url(),
                             "--llm-api-key",
                             "sk-pool-test",
                             "--llm-timeout",
                             "10s"};
  for (auto& t : targets) {
    a.push_back("--target");
    a.push_back(t + "=" + h.dsn(t));
  }
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

/// Ad-hoc analyses with the LLM on, `per_target` at once on every target;
/// returns the "llm" objects of the answers that came back.
std::vector<std::string> storm(const std::string& url,
                               const std::vector<std::string>& targets,
                               int per_target) {
  std::vector<std::future<http_result>> calls;
  for (auto& t : targets)
    for (int i = 0; i < per_target; ++i)
      calls.push_back(std::async(std::launch::async, [&url, t, i] {
        // Distinct statements: the answer cache cannot serve any of them.
        auto sql = "SELECT id FROM orders WHERE customer = $1 AND total > "
          + std::to_string(i + 1);
        auto body = R"({"sql":")" + sql + R"(","target":")" + t
          + R"(","llm":true})";
        return http_request(url, "POST", "/api/analysis/query", body,
                            {{"Content-Type", "application/json"}}, 120s);
      }));
  std::vector<std::string> out;
  for (auto& c : calls) {
    auto r = c.get();
    if (r.status == 200)
      out.push_back(r.body);
  }
  return out;
}

size_t threads_of(pid_t pid) {
  size_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(
         "/proc/" + std::to_string(pid) + "/task", ec);
       !ec && it != std::filesystem::directory_iterator{}; it.increment(ec))
    ++n;
  return n;
}

} // namespace

TEST_CASE("questions at once never overrun the daily LLM budget",
          "[llm][pool]") {
  auto targets = pool_targets(3);
  fake_openai ai;
  // Slow answers: every question is asked before any has been paid for.
  ai.set_handler([](const auto& r) { return answer(r, 400ms); });
  temp_dir data;
  // Four calls' worth (1,500 tokens each), for 18 questions.
  engine_process e{args(ai, data, targets, {"--llm-daily-tokens", "6000"})};
  auto url = e.wait_ready();
  auto answers = storm(url, targets, 3);
  CHECK_FALSE(answers.empty());
  auto status = parse_json(http_get(url, "/api/status").body);
  auto& llm = status["llm"];
  INFO(http_get(url, "/api/status").body);
  // Whatever ran concurrently, the spend stays within the budget: each
  // question reserved its worst case before it was asked.
  CHECK(llm["budget"]["tokens"].GetInt64() <= 6000);
  CHECK(ai.calls() <= 4);
  CHECK(ai.calls() >= 1);
  CHECK(llm["budget_refusals"].GetUint64() >= 1);
  CHECK(llm["budget"]["tokens_reserved"].GetInt64() == 0);
  CHECK(e.stop() == 0);
}

TEST_CASE("a fixed pool of LLM calls: threads do not grow with questions",
          "[llm][pool]") {
  auto targets = pool_targets(4);
  fake_openai ai;
  ai.set_handler([](const auto& r) { return answer(r, 1500ms); });
  temp_dir data;
  engine_process e{args(ai, data, targets,
                        {"--llm-concurrency", "2", "--llm-max-queued", "3"})};
  auto url = e.wait_ready();
  // The engine's threads once everything is up.
  REQUIRE(eventually(
    [&] {
      auto s = parse_json(http_get(url, "/api/status").body);
      return s["targets"].Size() == targets.size();
    },
    10s));
  std::this_thread::sleep_for(500ms);
  auto before = threads_of(e.pid());
  std::atomic<bool> done{false};
  std::atomic<size_t> most{before};
  std::thread sampler{[&] {
    while (!done) {
      auto n = threads_of(e.pid());
      if (n > most)
        most = n;
      std::this_thread::sleep_for(20ms);
    }
  }};
  auto answers = storm(url, targets, 4);
  done = true;
  sampler.join();
  INFO("threads before " << before << ", most during " << most);
  // 32 questions: at most two calls in flight, three waiting, the rest
  // refused as busy. Before the pool, each question had a thread.
  CHECK(most <= before + 2);
  CHECK(ai.max_in_flight() <= 2);
  size_t busy = 0;
  for (auto& a : answers)
    if (a.find("the LLM is busy") != std::string::npos)
      ++busy;
  CHECK(busy >= 1);
  auto status = parse_json(http_get(url, "/api/status").body);
  CHECK(status["llm"]["busy_refusals"].GetUint64() >= 1);
  CHECK(status["llm"]["in_flight"].GetUint64() == 0);
  CHECK(status["llm"]["queued"].GetUint64() == 0);
  // And the engine still answers questions afterwards.
  CHECK(http_get(url, "/health").status == 200);
  CHECK(e.stop() == 0);
}

TEST_CASE("an LLM budget nearly spent is an alert of the engine that a "
          "restart keeps",
          "[llm][alerts]") {
  auto targets = pool_targets(1);
  fake_openai ai;
  ai.set_handler([](const auto& r) { return answer(r, 0ms); });
  temp_dir data;
  const std::string token = "budget-token-0123456789";
  auto flags = args(ai, data, targets,
                    {"--llm-daily-tokens", "40000", "--alert-llm-budget", "0.1",
                     "--api-token", token});
  size_t calls = 0;
  auto budget_alert = [](const std::string& url) {
    auto d = parse_json(http_get(url, "/api/alerts").body);
    for (auto& a : d["firing"].GetArray())
      if (std::string{a["rule"].GetString()} == "llm_budget")
        return std::string{a["id"].GetString()} + " " + a["target"].GetString()
          + " " + a["summary"].GetString();
    return std::string{};
  };
  {
    engine_process e{flags};
    auto url = e.wait_ready();
    CHECK(budget_alert(url).empty());
    auto ask = [&](const std::string& sql) {
      auto r = http_request(url, "POST", "/api/analysis/query",
                            R"({"sql":")" + sql + R"(","target":")" + targets[0]
                              + R"(","llm":true})",
                            {{"Content-Type", "application/json"},
                             {"Authorization", "Bearer " + token}},
                            60s);
      INFO(r.body);
      REQUIRE(r.status == 200);
    };
    // One question (an explanation and a rewrite, 1,500 tokens each call):
    // 3,000 tokens of 40,000 (7.5 %), under the 10 % share.
    ask("SELECT id FROM orders WHERE customer = $1");
    CHECK(budget_alert(url).empty());
    // A second: past 10 %.
    ask("SELECT id FROM orders WHERE total < $1");
    REQUIRE(eventually([&] { return !budget_alert(url).empty(); }, 5s));
    auto fired = budget_alert(url);
    // The engine's, not a target's: no target may be named _engine.
    CHECK_THAT(fired, Catch::StartsWith("llm_budget:_engine _engine "));
    CHECK_THAT(fired, Catch::Contains("00 of 40000 tokens"));
    // Listed with a target's alerts too (it concerns them all), and alone.
    for (auto q : {"?target=" + targets[0], std::string{"?target=_engine"}}) {
      INFO(q);
      CHECK_THAT(http_get(url, "/api/alerts" + q).body,
                 Catch::Contains("llm_budget:_engine"));
    }
    // Acknowledged like any other.
    auto ack = http_request(url, "POST", "/api/alerts/ack",
                            R"({"id":"llm_budget:_engine"})",
                            {{"Content-Type", "application/json"},
                             {"Authorization", "Bearer " + token}});
    INFO(ack.body);
    CHECK(ack.status == 200);
    CHECK_THAT(ack.body, Catch::Contains("acknowledged_by"));
    // And silenced like any other (the dashboard silences by its target).
    auto quiet = http_request(url, "POST", "/api/alerts/silence",
                              R"({"rule":"llm_budget","target":"_engine",)"
                              R"("hours":1})",
                              {{"Content-Type", "application/json"},
                               {"Authorization", "Bearer " + token}});
    INFO(quiet.body);
    CHECK(quiet.status == 200);
    calls = ai.calls();
    CHECK(e.stop() == 0);
  }
  {
    // Today's spend is on disk: a restarted engine says so again at once.
    engine_process e{flags};
    auto url = e.wait_ready();
    CHECK(eventually([&] { return !budget_alert(url).empty(); }, 10s));
    CHECK(ai.calls() == calls);
    CHECK(e.stop() == 0);
  }
  // A budget of 0 is a choice (no calls at all), not one running out.
  flags[std::find(flags.begin(), flags.end(), "--llm-daily-tokens")
        - flags.begin() + 1]
    = "0";
  engine_process e{flags};
  auto url = e.wait_ready();
  CHECK_FALSE(eventually([&] { return !budget_alert(url).empty(); }, 2s));
  CHECK(e.stop() == 0);
}
