// Proving and applying the demo's advice: each index action is tested in
// the sandbox (estimated vs measured speedup), then applied to the demo
// database as the dashboard's Apply button does (apply success rate, time
// from the request to a valid index), then everything is rolled back.
//
// usage: optischema-apply-bench
// Needs the demo: it runs `scripts/demo.sh up` (reusing a running demo; set
// DEMO_SCALE before the first run to pick its size). The demo database is
// changed while it runs and restored at the end.

#include "engine_process.hpp"
#include "harness.hpp"
#include "http_client.hpp"
#include "test_util.hpp"

#include <fmt/format.h>
#include <pqxx/pqxx>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

using namespace optischema::test;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

/// The last line a shell command prints.
std::string run(const std::string& cmd) {
  auto out = shell_output(cmd);
  auto i = out.rfind('\n');
  return i == std::string::npos ? out : out.substr(i + 1);
}

double ms_since(clock_type::time_point t) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t)
    .count();
}

double median(std::vector<double> xs) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  return xs[xs.size() / 2];
}

/// Spearman's rank correlation of two equally long lists.
double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  auto ranks = [](const std::vector<double>& x) {
    std::vector<size_t> idx(x.size());
    for (size_t i = 0; i < idx.size(); ++i)
      idx[i] = i;
    std::sort(idx.begin(), idx.end(),
              [&](size_t i, size_t j) { return x[i] < x[j]; });
    std::vector<double> r(x.size());
    for (size_t k = 0; k < idx.size(); ++k)
      r[idx[k]] = static_cast<double>(k);
    return r;
  };
  auto ra = ranks(a);
  auto rb = ranks(b);
  double n = static_cast<double>(a.size());
  double d2 = 0;
  for (size_t i = 0; i < a.size(); ++i)
    d2 += (ra[i] - rb[i]) * (ra[i] - rb[i]);
  return n < 2 ? 0 : 1 - 6 * d2 / (n * (n * n - 1));
}

std::string index_state(const std::string& dsn, const std::string& name) {
  pqxx::connection c{dsn};
  pqxx::nontransaction tx{c};
  auto r = tx.exec_params("SELECT indisvalid FROM pg_index i JOIN pg_class c "
                          "ON c.oid = i.indexrelid WHERE c.relname = $1",
                          name);
  return r.empty() ? "absent" : r[0][0].as<bool>() ? "valid" : "invalid";
}

} // namespace

int main() {
  auto root = std::string{OPTISCHEMA_SOURCE_DIR};
  std::fprintf(stderr, "apply-bench: starting the demo (scripts/demo.sh up)\n");
  auto dsn = run("cd " + root + " && scripts/demo.sh up 2>/dev/null");
  auto sandbox = run("cd " + root + " && scripts/demo.sh sandbox-dsn");
  if (dsn.empty() || sandbox.empty()) {
    std::fprintf(stderr, "apply-bench: the demo did not start\n");
    return 1;
  }
  temp_dir data;
  const std::string token = "apply-bench-token";
  engine_process e{{"serve", "--dsn", dsn, "--listen", "127.0.0.1:0",
                    "--data-dir", data.str(), "--analysis-interval", "0",
                    "--sandbox-dsn", sandbox, "--sandbox-auto-test", "0",
                    "--api-token", token}};
  auto url = e.wait_ready(60s);
  std::map<std::string, std::string> auth{{"Authorization", "Bearer " + token}};
  http_request(url, "POST", "/api/collect", "", auth, 60s);
  auto t0 = clock_type::now();
  auto analysis = http_request(url, "POST", "/api/analysis/run", "", auth,
                               300s);
  std::printf("analysis: %.0f ms (%u)\n", ms_since(t0), analysis.status);
  auto list = parse_json(http_get(url, "/api/suggestions/latest").body);
  struct action {
    std::string id, kind, index, title;
    double estimated = 0, measured = 0;
    std::string verdict;
  };
  std::vector<action> actions;
  for (auto& r : list["suggestions"].GetArray()) {
    std::string kind = r["kind"].GetString();
    if ((kind != "create_index" && kind != "drop_index")
        || r["confidence"].GetDouble() < 0.5)
      continue;
    actions.push_back({r["id"].GetString(), kind, r["index_name"].GetString(),
                       r["title"].GetString(),
                       r["estimated_speedup"].GetDouble()});
  }
  // Creations first: a drop may wait for the index that supersedes it.
  std::stable_sort(actions.begin(), actions.end(), [](auto& a, auto& b) {
    return a.kind == "create_index" && b.kind != "create_index";
  });
  std::printf("%zu index actions\n\n", actions.size());
  // -- proof
  std::printf("%-62s %10s %10s %s\n", "sandbox test", "estimated", "measured",
              "verdict (ms)");
  std::vector<double> est, mea;
  for (auto& a : actions) {
    if (a.kind != "create_index")
      continue;
    auto t = clock_type::now();
    auto res = http_request(url, "POST", "/api/suggestions/test",
                            R"({"id":")" + a.id + R"("})", auth, 1800s);
    auto took = ms_since(t);
    if (res.status != 200) {
      std::printf("%-62.62s failed: %s\n", a.title.c_str(), res.body.c_str());
      continue;
    }
    auto d = parse_json(res.body);
    a.measured = d["measured_speedup"].GetDouble();
    a.verdict = d["sandbox"]["verdict"].GetString();
    std::printf("%-62.62s %9.1fx %9.1fx %s (%.0f)\n", a.title.c_str(),
                a.estimated, a.measured, a.verdict.c_str(), took);
    if (a.estimated > 0 && a.measured > 0) {
      est.push_back(a.estimated);
      mea.push_back(a.measured);
    }
  }
  if (!est.empty()) {
    std::vector<double> logs;
    for (size_t i = 0; i < est.size(); ++i)
      logs.push_back(std::abs(std::log10(mea[i] / est[i])));
    std::printf("\nestimated vs measured: Spearman rank correlation %.2f over "
                "%zu indexes; median |log10(measured/estimated)| %.2f\n",
                spearman(est, mea), est.size(), median(logs));
  }
  // -- apply, as the Apply button does
  std::printf("\n%-62s %8s %s\n", "apply", "ms", "result");
  size_t ok = 0;
  std::vector<double> times;
  std::vector<const action*> applied;
  for (auto& a : actions) {
    auto t = clock_type::now();
    auto res = http_request(url, "POST", "/api/suggestions/apply",
                            R"({"id":")" + a.id + R"("})", auth, 3600s);
    auto took = ms_since(t);
    auto state = index_state(dsn, a.index);
    auto good = res.status == 200
      && state == (a.kind == "create_index" ? "valid" : "absent");
    ok += good ? 1 : 0;
    if (good) {
      times.push_back(took);
      applied.push_back(&a);
    }
    std::printf("%-62.62s %8.0f %s\n", a.title.c_str(), took,
                good ? "ok"
                     : (std::to_string(res.status) + " " + res.body).c_str());
  }
  // -- and back
  size_t back = 0;
  for (auto i = applied.rbegin(); i != applied.rend(); ++i) {
    auto res = http_request(url, "POST", "/api/suggestions/rollback",
                            R"({"id":")" + (*i)->id + R"("})", auth, 3600s);
    auto state = index_state(dsn, (*i)->index);
    back += res.status == 200
        && state == ((*i)->kind == "create_index" ? "absent" : "valid")
      ? 1
      : 0;
  }
  std::printf(
    "\napply success: %zu/%zu (%.0f%%); request to valid index: "
    "median %.0f ms, max %.0f ms; rolled back: %zu/%zu\n",
    ok, actions.size(), actions.empty() ? 0.0 : 100.0 * ok / actions.size(),
    median(times),
    times.empty() ? 0.0 : *std::max_element(times.begin(), times.end()), back,
    applied.size());
  e.stop();
  return 0;
}
