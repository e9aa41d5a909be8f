#pragma once

// A deterministic actor system for protocol tests, plus a sink that records
// events. Timers fire only when a test says so (sched.trigger_timeout()):
// run() would spin forever on periodic ticks.

#include "optischema/messages/actors.hpp"
#include "optischema/messages/error.hpp"
#include "optischema/store/history_db.hpp"

#include <caf/test/dsl.hpp>

#include <unistd.h>
#include <filesystem>
#include <string>
#include <vector>

namespace optischema::test {

struct recorded_events {
  recorded_events() = default; // not an aggregate (C++20 + CAF 0.17)
  static inline const char* name = "recording-sink";
  std::vector<event> events;
};

inline event_sink_actor::behavior_type
recording_sink(event_sink_actor::stateful_pointer<recorded_events> self) {
  return {
    [self](atom::publish, const event& ev) {
      self->state.events.push_back(ev);
    },
  };
}

struct test_config : caf::actor_system_config {
  test_config() {
    optischema::add_error_category(*this);
  }
};

struct actor_fixture : test_coordinator_fixture<test_config> {
  std::filesystem::path dir;

  actor_fixture() {
    static int n = 0;
    dir = std::filesystem::temp_directory_path()
      / ("optischema-actor-test-" + std::to_string(getpid()) + "-"
         + std::to_string(n++));
    std::filesystem::remove_all(dir);
  }

  ~actor_fixture() override {
    std::filesystem::remove_all(dir);
  }

  /// A history database of its own in `dir` (real RocksDB on disk).
  std::shared_ptr<history_db> open_db() {
    store_options opts;
    opts.dir = dir.string();
    auto opened = history_db::open(opts);
    CAF_REQUIRE(opened.has_value());
    return std::shared_ptr<history_db>{std::move(*opened)};
  }

  /// Keeps one analysis of `target` in the STORE `st`: the recommendation
  /// "r1" (create the index t_a_idx), which protocol tests look up, apply
  /// and test.
  void store_recommendation(const store_actor& st, const std::string& target) {
    recommendation r;
    r.id = "r1";
    r.kind = "create_index";
    r.target = target;
    r.index_name = "t_a_idx";
    auto a = std::make_shared<analysis_result>();
    a->target = target;
    a->recommendations = {r};
    self->send(st, atom::put_v, a);
    consume_messages();
  }

  std::vector<event>& events_of(const event_sink_actor& sink) {
    return deref<event_sink_actor::stateful_base<recorded_events>>(sink)
      .state.events;
  }
};

} // namespace optischema::test
