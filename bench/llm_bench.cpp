// The LLM layer's cost on the demo workload: LLM calls and tokens per
// analysis cycle, the cache hit ratio over ten cycles of an unchanged
// workload (goal >= 95%), and the time the LLM parts add per
// recommendation. The endpoint is a local OpenAI-compatible stand-in with a
// configurable latency (a real one adds its own seconds per call).
//
// usage: optischema-llm-bench [cycles=10] [endpoint_latency_ms=0]
// Needs the demo database: it runs `scripts/demo.sh up` at scale 0.1.

#include "engine_process.hpp"
#include "fake_openai.hpp"
#include "harness.hpp"
#include "http_client.hpp"
#include "test_util.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

using namespace optischema::test;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

std::string run(const std::string& cmd) {
  return shell_output(cmd);
}

std::string last_line(const std::string& x) {
  auto i = x.rfind('\n');
  return i == std::string::npos ? x : x.substr(i + 1);
}

fake_openai::reply answer(const fake_openai::recorded_request& r,
                          std::chrono::milliseconds latency) {
  std::string content;
  if (r.body.find("\"explain_plan\"") != std::string::npos)
    content
      = R"({"summary":"The plan reads the table and filters it.","steps":[],)"
        R"("bottlenecks":[],"suggestions":[]})";
  else if (r.body.find("\"rewrite_query\"") != std::string::npos)
    content = R"({"rewrites":[]})";
  else
    content
      = R"({"narrative":"The index serves the statement's predicate directly.",)"
        R"("risks":["build time"],"verification":"compare mean_time before and after"})";
  return {200, fake_openai::completion(content, 900, 250), {}, latency};
}

struct llm_figures {
  uint64_t asked = 0, calls = 0, hits = 0, misses = 0, in_flight = 0;
  int64_t tokens = 0;
};

llm_figures figures(const std::string& url) {
  auto s = parse_json(http_get(url, "/api/status").body);
  auto& l = s["llm"];
  return {l["asked"].GetUint64(),      l["calls"].GetUint64(),
          l["cache_hits"].GetUint64(), l["cache_misses"].GetUint64(),
          l["in_flight"].GetUint64(),  l["budget"]["tokens"].GetInt64()};
}

/// Runs one analysis and waits until the LLM parts that follow it are done
/// (the count of questions stops moving and none is in flight). Returns the
/// elapsed ms.
double cycle(const std::string& url, bool llm) {
  auto t0 = clock_type::now();
  http_request(url, "POST", "/api/analysis/run", "", {}, 300s);
  if (llm) {
    auto last = figures(url).asked;
    auto still = clock_type::now();
    while (clock_type::now() - still < 1500ms) {
      std::this_thread::sleep_for(50ms);
      auto f = figures(url);
      if (f.asked != last || f.in_flight > 0) {
        last = f.asked;
        still = clock_type::now();
      }
    }
    return std::chrono::duration<double, std::milli>(still - t0).count();
  }
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0)
    .count();
}

} // namespace

int main(int argc, char** argv) {
  int cycles = argc > 1 ? std::atoi(argv[1]) : 10;
  auto latency = std::chrono::milliseconds{argc > 2 ? std::atoi(argv[2]) : 0};
  std::string root = OPTISCHEMA_SOURCE_DIR;
  fmt::print("LLM benchmark: {} cycles, endpoint latency {} ms\n", cycles,
             latency.count());
  auto dsn = last_line(
    run("cd " + root
        + " && DEMO_SCALE=0.1 DEMO_RATE=50 scripts/demo.sh up 2>/dev/null"));
  if (dsn.find("dbname=demo") == std::string::npos) {
    fmt::print("the demo did not start: {}\n", dsn);
    return 1;
  }
  fmt::print("  demo workload running ({}); letting it fill pg_stat_statements "
             "for 20 s\n",
             dsn);
  std::this_thread::sleep_for(20s);
  fake_openai ai;
  ai.set_handler([latency](const auto& r) { return answer(r, latency); });
  temp_dir with_data{"optischema-llm-bench"};
  temp_dir without_data{"optischema-llm-bench-off"};
  engine_process plain{{"serve", "--dsn", dsn, "--listen", "127.0.0.1:0",
                        "--data-dir", without_data.str(), "--analysis-interval",
                        "0"}};
  engine_process e{{"serve", "--dsn", dsn, "--listen", "127.0.0.1:0",
                    "--data-dir", with_data.str(), "--analysis-interval", "0",
                    "--llm-base-url", ai.base_url(), "--llm-api-key",
                    "sk-bench"}};
  auto plain_url = plain.wait_ready();
  auto url = e.wait_ready();
  // Without the LLM: the engine's own analysis time.
  double plain_ms = 0;
  for (int i = 0; i < 3; ++i)
    plain_ms += cycle(plain_url, false) / 3;
  llm_figures before = figures(url);
  uint64_t calls_before = ai.calls();
  double first_ms = 0, later_ms = 0;
  uint64_t first_calls = 0, later_calls = 0;
  int64_t first_tokens = 0, later_tokens = 0;
  for (int i = 0; i < cycles; ++i) {
    auto ms = cycle(url, true);
    auto f = figures(url);
    auto calls = ai.calls() - calls_before;
    auto tokens = f.tokens - before.tokens;
    if (i == 0) {
      first_ms = ms;
      first_calls = calls;
      first_tokens = tokens;
    } else {
      later_ms += ms / (cycles - 1);
      later_calls += calls;
      later_tokens += tokens;
    }
    fmt::print("  cycle {:2}: {:4} LLM calls, {:6} tokens, {:7.0f} ms\n", i + 1,
               calls, tokens, ms);
    before = f;
    calls_before = ai.calls();
  }
  auto f = figures(url);
  auto doc = parse_json(http_get(url, "/api/suggestions/latest").body);
  size_t narrated = 0;
  for (auto& r : doc["suggestions"].GetArray())
    if (std::string{r["narrative_source"].GetString()}.size() > 0)
      ++narrated;
  double hit_ratio = f.hits + f.misses > 0
    ? static_cast<double>(f.hits) / static_cast<double>(f.hits + f.misses)
    : 0.0;
  double later_hits = 1.0
    - static_cast<double>(later_calls)
      / std::max<double>(1.0, static_cast<double>(first_calls) * (cycles - 1));
  fmt::print("\n  first cycle: {} LLM calls, {} tokens, {:.0f} ms (without the "
             "LLM: {:.0f} ms)\n",
             first_calls, first_tokens, first_ms, plain_ms);
  fmt::print(
    "  later cycles: {:.1f} LLM calls and {:.0f} tokens per cycle, {:.0f} ms\n",
    static_cast<double>(later_calls) / (cycles - 1),
    static_cast<double>(later_tokens) / (cycles - 1), later_ms);
  fmt::print("  cache hit ratio over {} cycles: {:.1f}% of questions ({} hits, "
             "{} misses); "
             "cycles 2..{}: {:.1f}% (goal >= 95%)\n",
             cycles, 100 * hit_ratio, f.hits, f.misses, cycles,
             100 * later_hits);
  // The stand-in's usage figures are fixed; what the engine really sends is
  // in the requests it recorded.
  size_t chars = 0;
  auto reqs = ai.requests();
  for (auto& r : reqs)
    chars += r.body.size();
  if (!reqs.empty())
    fmt::print(
      "  prompt size: {:.0f} characters per request (~{:.0f} tokens at 4 "
      "characters per token)\n",
      static_cast<double>(chars) / static_cast<double>(reqs.size()),
      static_cast<double>(chars) / static_cast<double>(reqs.size()) / 4);
  fmt::print("  recommendations with an LLM narrative: {}\n", narrated);
  if (narrated > 0)
    fmt::print(
      "  latency added per narrated recommendation (cold cycle): {:.0f} ms\n",
      std::max(0.0, first_ms - plain_ms) / static_cast<double>(narrated));
  e.stop();
  plain.stop();
  run("cd " + root + " && scripts/demo.sh down >/dev/null 2>&1");
  return 0;
}
