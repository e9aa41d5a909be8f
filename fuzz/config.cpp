// Config files (--config FILE, TOML/INI): the real command line of
// app/run.cpp (CLI11's config reader and every flag definition) and the
// validation of app/config.cpp. This file stands in for what run() calls
// after validation (serve, advise, apply, health, alerts), which would start
// the engine or reach a database.

#include "fuzz.hpp"

#include "cli.hpp"

#include <unistd.h>
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <string>

using namespace optischema;

namespace optischema::app {

// The validated configuration must be one the engine can run with.
int serve(const engine_config& cfg) {
  fuzz::require(!cfg.targets.empty(), "a configuration without targets");
  for (auto& t : cfg.targets)
    fuzz::require(valid_target_name(t.name), "an invalid target name");
  fuzz::require(std::isfinite(cfg.min_confidence) && cfg.min_confidence >= 0
                  && cfg.min_confidence <= 1,
                "min_confidence outside 0..1");
  fuzz::require(cfg.poll_interval.count() > 0, "a poll interval of zero");
  fuzz::require(cfg.alerts.sustain_polls >= 1 && cfg.alerts.down_polls >= 1
                  && cfg.alerts.regression_ratio > 1
                  && cfg.alerts.connections_ratio > 0
                  && cfg.alerts.connections_ratio <= 1,
                "alert thresholds out of range");
  fuzz::require(cfg.apply.max_index_bytes >= 0
                  && cfg.sandbox.full_copy_max_bytes >= 0
                  && cfg.llm.cache_max_bytes > 0,
                "a negative size limit");
  return 0;
}

int advise(const advise_flags&) {
  return 0;
}

int apply(const apply_flags&) {
  return 0;
}

int health(const health_flags&) {
  return 0;
}

int alerts(const alerts_flags&) {
  return 0;
}

} // namespace optischema::app

namespace {

/// A file of our own for the input (removed at exit); a char array, which
/// outlives the atexit handler that needs it.
const char* config_path() {
  static char name[] = "/tmp/optischema-fuzz-config-XXXXXX";
  static const bool made = [] {
    auto fd = mkstemp(name);
    fuzz::require(fd >= 0, "a temporary config file");
    close(fd);
    std::atexit([] { unlink(name); });
    return true;
  }();
  (void)made;
  return name;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto text = fuzz::text(data, size);
  std::string lower{text};
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  // --log-file would make run() create files wherever the input says.
  if (lower.find("log") != std::string::npos)
    return -1;
  auto* f = std::fopen(config_path(), "wb");
  fuzz::require(f != nullptr, "the temporary config file opens");
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
  std::string argv0 = "optischema", flag = "--config", cmd = "serve";
  std::string path = config_path();
  char* argv[] = {argv0.data(), flag.data(), path.data(), cmd.data(), nullptr};
  app::run(4, argv);
  return 0;
}
