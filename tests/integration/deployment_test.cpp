// What a deployment relies on: the probes (/health/live, /health/ready),
// `optischema health` as a container health check, `serve --config` with
// the config the docs and manifests show, `--check-config` as a pre-flight.

#include "engine_process.hpp"
#include "harness.hpp"
#include "http_client.hpp"
#include "test_util.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

using namespace optischema::test;
using namespace std::chrono_literals;

namespace {

/// `optischema <args>`: exit code and everything it printed.
std::pair<int, std::string> run_cli(const std::string& args) {
  auto out
    = shell_output(engine_binary() + " " + args + " 2>&1; echo \"rc=$?\"");
  auto at = out.rfind("rc=");
  REQUIRE(at != std::string::npos);
  return {std::stoi(out.substr(at + 3)), out.substr(0, at)};
}

/// A loopback listener that never accepts: a database whose connection
/// hangs (until the client's timeout), so its first poll stays in flight.
struct silent_listener {
  int fd = -1;
  int port = 0;
  silent_listener() {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(fd, 16);
    socklen_t len = sizeof(addr);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  ~silent_listener() {
    close(fd);
  }
};

/// Serves a fresh harness database as `up` and `second` (NAME=DSN).
std::vector<std::string> two_targets(const std::string& second,
                                     const temp_dir& data) {
  auto& h = harness::shared();
  return {
    "serve",           "--target",   "up=" + h.dsn(h.create_database("ready")),
    "--target",        second,       "--listen",
    "127.0.0.1:0",     "--data-dir", data.str(),
    "--poll-interval", "1s"};
}

} // namespace

TEST_CASE("readiness waits for every target's first poll and the health "
          "command says so",
          "[deploy]") {
  silent_listener hung;
  temp_dir data;
  engine_process e{
    two_targets("hung=host=127.0.0.1 port=" + std::to_string(hung.port)
                  + " user=x dbname=y connect_timeout=30",
                data)};
  auto url = e.wait_ready();
  // Alive at once; not ready while a first poll hangs, and it says which.
  CHECK(http_get(url, "/health/live").status == 200);
  REQUIRE(eventually(
    [&] {
      auto r = http_get(url, "/health/ready");
      auto d = parse_json(r.body);
      return r.status == 503 && d["status"] == "starting"
        && d["waiting"].Size() == 1 && d["waiting"][0] == "hung";
    },
    10s));
  auto [rc, out] = run_cli("health --ready --timeout 5s --url " + url);
  CHECK(rc == 1);
  CHECK_THAT(out, Catch::Contains("hung"));
  auto [live_rc, live_out] = run_cli("health --url " + url);
  CHECK(live_rc == 0);
  CHECK_THAT(live_out, Catch::Contains("\"ok\""));
}

TEST_CASE("readiness once every target was polled, a database that is down "
          "included",
          "[deploy]") {
  temp_dir data;
  engine_process e{
    two_targets("down=host=127.0.0.1 port=" + std::to_string(closed_port())
                  + " user=x dbname=y",
                data)};
  auto url = e.wait_ready();
  // A target that is down does not keep the pod out of its Service: the
  // engine watches it and its status says what is wrong.
  REQUIRE(eventually(
    [&] { return http_get(url, "/health/ready").status == 200; }, 15s));
  auto d = parse_json(http_get(url, "/health/ready").body);
  CHECK(d["status"] == "ready");
  CHECK(d["targets"].GetInt() == 2);
  CHECK(run_cli("health --ready --url " + url).first == 0);
  e.stop();
  auto [rc, out] = run_cli("health --timeout 2s --url " + url);
  CHECK(rc == 1);
  CHECK_THAT(out, Catch::Contains("no answer"));
  CHECK(run_cli("health --url https://example.com/x").first == 2);
}

TEST_CASE("serve --config reads multi-line arrays and a # inside quotes",
          "[deploy][config]") {
  auto& h = harness::shared();
  auto db = h.create_database("config");
  temp_dir data;
  // The password is wrong on purpose: with `#` cut, libpq would be asked
  // for "pa" instead; the check shows the DSN as the engine read it.
  auto file = data.path / "optischema.toml";
  auto port = std::to_string(closed_port());
  std::ofstream{file} << "[serve]\n"
                         "target = [\n"
                         "  \"one="
                      << h.dsn(db)
                      << "\",  # the first\n"
                         "  \"two=postgresql://u:pa#ss@127.0.0.1:"
                      << port
                      << "/app\",\n"
                         "]\n"
                         "poll-interval = \"1s\" # fast\n"
                         "alert-sustain-polls = 3\n"
                         "alert-plan-watch = 0\n";
  auto [rc, out] = run_cli("serve --config " + file.string()
                           + " --check-config --data-dir " + data.str());
  INFO(out);
  CHECK(rc == 0);
  CHECK_THAT(out,
             Catch::Contains("2 target(s)")
               && Catch::Contains("target two: u@127.0.0.1:" + port + "/app")
               && Catch::Contains("poll every 1s")
               && Catch::Contains("alerts after 3 poll(s)")
               && Catch::Contains("plans of the 0 costliest"));
  CHECK_THAT(out, !Catch::Contains("pa#ss") && !Catch::Contains("\"["));
  // And the engine runs with it: the first target is polled.
  engine_process e{{"serve", "--config", file.string(), "--listen",
                    "127.0.0.1:0", "--data-dir", data.str()}};
  auto url = e.wait_ready();
  CHECK(parse_json(http_get(url, "/api/targets").body)["targets"].Size() == 2);
  // A mistake in the file names its line.
  std::ofstream{file} << "[serve]\ndsn = \"postgresql://db\n";
  auto [bad_rc, bad_out]
    = run_cli("serve --config " + file.string() + " --check-config");
  CHECK(bad_rc != 0);
  CHECK_THAT(bad_out, Catch::Contains("line 2"));
  // An alert threshold out of range says which and what it takes.
  auto [alert_rc, alert_out] = run_cli("serve --dsn '" + h.dsn(db)
                                       + "' --alert-connections 2 "
                                         "--check-config");
  CHECK(alert_rc != 0);
  CHECK_THAT(alert_out,
             Catch::Contains("--alert-connections and --alert-llm-budget "
                             "more than 0 and at most 1"));
}

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

} // namespace

// The Kubernetes overlays' configs: tests/deploy/check_manifests.py.
TEST_CASE(".env.example loads as docker run --env-file passes it",
          "[deploy][config]") {
  temp_dir dir;
  std::string src = OPTISCHEMA_SOURCE_DIR;
  // .env.example as `docker run --env-file` passes it: KEY=VALUE lines.
  std::istringstream env{read_file(src + "/.env.example")};
  std::string line, vars;
  int n = 0;
  while (std::getline(env, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    REQUIRE(line.find('=') != std::string::npos);
    REQUIRE(line.find('\'') == std::string::npos);
    vars += " '" + line + "'";
    ++n;
  }
  CHECK(n > 40);
  auto [env_rc, env_out] = run_cli(
    "--version >/dev/null; cd " + dir.str() + " && env -i PATH=/usr/bin:/bin"
    + vars + " " + engine_binary() + " serve --check-config");
  INFO(env_out);
  CHECK(env_rc == 0);
  CHECK_THAT(env_out,
             Catch::Contains("1 target(s)")
               && Catch::Contains("poll every 30s"));
}

TEST_CASE("metrics in Prometheus format and logs as JSON lines for collectors",
          "[deploy][metrics]") {
  auto& h = harness::shared();
  temp_dir data;
  engine_process e{{"serve", "--target",
                    "shop=" + h.dsn(h.create_database("prom")), "--target",
                    "gone=host=127.0.0.1 port=" + std::to_string(closed_port())
                      + " user=x dbname=y password=s3cr3t-pw",
                    "--listen", "127.0.0.1:0", "--data-dir", data.str(),
                    "--poll-interval", "1s", "--log-format", "json"}};
  auto url = e.wait_ready();
  // Two polls of each target, so counters and the histogram have moved.
  auto sample = [](const std::string& text, const std::string& series) {
    auto at = text.find("\n" + series + " ");
    return at == std::string::npos
      ? -1.0
      : std::stod(text.substr(at + series.size() + 2));
  };
  REQUIRE(eventually(
    [&] {
      auto t = http_get(url, "/metrics").body;
      return sample(t, R"(optischema_polls_total{target="shop"})") >= 2
        && sample(t, R"(optischema_poll_failures_total{target="gone"})") >= 2;
    },
    20s));
  auto res = http_get(url, "/metrics");
  CHECK(res.status == 200);
  CHECK_THAT(res.headers["content-type"], Catch::StartsWith("text/plain"));
  auto& t = res.body;
  CHECK(sample(t, "optischema_up") == 1);
  CHECK(sample(t, R"(optischema_target_up{target="shop"})") == 1);
  CHECK(sample(t, R"(optischema_target_up{target="gone"})") == 0);
  CHECK(sample(t, R"(optischema_poll_failures_total{target="shop"})") == 0);
  // The histogram: +Inf counts every poll, buckets never decrease.
  auto count
    = sample(t, R"(optischema_poll_duration_seconds_count{target="shop"})");
  CHECK(count >= 2);
  CHECK(
    sample(
      t, R"(optischema_poll_duration_seconds_bucket{target="shop",le="+Inf"})")
    == count);
  CHECK(
    sample(
      t, R"(optischema_poll_duration_seconds_bucket{target="shop",le="0.005"})")
    <= sample(
      t, R"(optischema_poll_duration_seconds_bucket{target="shop",le="30"})"));
  CHECK(sample(t, R"(optischema_poll_duration_seconds_sum{target="shop"})")
        > 0);
  CHECK(sample(t, R"(optischema_statements_tracked{target="shop"})") >= 1);
  CHECK(
    sample(t, R"(optischema_applies_total{target="shop",outcome="applied"})")
    == 0);
  // Every line is a comment or a sample the text format allows, and every
  // family has exactly one TYPE line.
  std::istringstream lines{t};
  std::set<std::string> typed;
  std::string line;
  while (std::getline(lines, line)) {
    INFO(line);
    if (line.starts_with("# TYPE ")) {
      auto name = line.substr(7, line.find(' ', 7) - 7);
      CHECK(typed.insert(name).second);
      continue;
    }
    if (line.starts_with("# HELP "))
      continue;
    auto space = line.rfind(' ');
    REQUIRE(space != std::string::npos);
    auto name = line.substr(0, std::min(line.find('{'), space));
    CHECK(std::all_of(name.begin(), name.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    }));
    auto v = line.substr(space + 1);
    CHECK((v == "+Inf" || v == "NaN" || std::isfinite(std::stod(v))));
  }
  // Logs: one JSON object per line (the down target's warning among them),
  // its password redacted.
  e.stop();
  std::istringstream log{e.log()};
  auto objects = 0;
  auto warned = false;
  while (std::getline(log, line)) {
    if (line.starts_with("optischema: "))
      continue; // the banner on stdout, not a log line
    INFO(line);
    auto d = parse_json(line);
    REQUIRE(d.IsObject());
    CHECK(d["time"].IsString());
    CHECK(d["level"].IsString());
    REQUIRE(d["message"].IsString());
    ++objects;
    warned = warned
      || std::string{d["message"].GetString()}.find("collector gone")
        != std::string::npos;
  }
  CHECK(objects >= 3);
  CHECK(warned);
  CHECK(e.log().find("s3cr3t-pw") == std::string::npos);
}
