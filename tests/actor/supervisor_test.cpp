#define CAF_SUITE supervisor
#include "fixture.hpp"

#include "optischema/actors/supervisor.hpp"

using namespace optischema;
using namespace optischema::actors;
using namespace optischema::test;

namespace {

struct fixture : actor_fixture {
  supervisor_actor aut;

  fixture() {
    engine_config cfg;
    // A target nobody listens on: its collector runs, fails, retries.
    cfg.targets.push_back({"t1", "host=127.0.0.1 port=1 user=x dbname=y", ""});
    cfg.detached_collectors = false;
    aut = sys.spawn(supervisor, cfg, supervisor_resources{open_db(), nullptr});
    consume_messages();
  }

  ~fixture() override {
    anon_send_exit(aut, caf::exit_reason::user_shutdown);
    consume_messages();
  }

  supervisor_state& state() {
    return deref<supervisor_actor::stateful_base<supervisor_state>>(aut).state;
  }

  /// Fires timers until the supervisor's restart of `name` happened.
  void run_restart(const std::string& name) {
    for (int i = 0; i < 10 && !state().components[name].handle; ++i) {
      sched.trigger_timeout();
      consume_messages();
    }
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(supervisor_tests, fixture)

CAF_TEST(spawns the shared components and one collector per target) {
  auto& st = state();
  CAF_CHECK_EQUAL(st.components.count("store"), 1u);
  CAF_CHECK_EQUAL(st.components.count("fingerprinter"), 1u);
  CAF_CHECK_EQUAL(st.components.count("collector/t1"), 1u);
  // No NATS URL and no web server: no BROKER, no EDGE.
  CAF_CHECK_EQUAL(st.components.count("broker"), 0u);
  CAF_CHECK_EQUAL(st.components.count("edge"), 0u);
  for (auto& [name, c] : st.components)
    CAF_CHECK(c.handle != nullptr);
}

CAF_TEST(a crashed collector restarts after a growing backoff) {
  auto old = state().components["collector/t1"].handle;
  anon_send_exit(old, caf::exit_reason::kill);
  consume_messages();
  auto& c = state().components["collector/t1"];
  CAF_CHECK(c.handle == nullptr);
  CAF_CHECK(c.restarting);
  CAF_CHECK_EQUAL(c.backoff, std::chrono::milliseconds{1000});
  run_restart("collector/t1");
  CAF_REQUIRE(c.handle != nullptr);
  CAF_CHECK(c.handle != old);
  CAF_CHECK_EQUAL(c.restarts, 1u);
  // Crashing again soon doubles the wait.
  anon_send_exit(c.handle, caf::exit_reason::kill);
  consume_messages();
  CAF_CHECK_EQUAL(c.backoff, std::chrono::milliseconds{2000});
  run_restart("collector/t1");
  CAF_CHECK_EQUAL(c.restarts, 2u);
}

CAF_TEST(a restarted shared component restarts the collectors holding it) {
  auto collector_before = state().components["collector/t1"].handle;
  auto fp_before = state().components["fingerprinter"].handle;
  anon_send_exit(fp_before, caf::exit_reason::kill);
  consume_messages();
  run_restart("fingerprinter");
  auto& st = state();
  CAF_REQUIRE(st.components["fingerprinter"].handle != nullptr);
  CAF_CHECK(st.components["fingerprinter"].handle != fp_before);
  // The collector got the new handle by being started again.
  CAF_CHECK(st.components["collector/t1"].handle != collector_before);
  CAF_CHECK(caf::actor_cast<caf::actor>(st.fingerprinter)
            == st.components["fingerprinter"].handle);
}

CAF_TEST(status gathers every component) {
  auto rh = self->request(aut, caf::infinite, atom::status_v);
  consume_messages();
  rh.receive(
    [&](const std::string& json) {
      CAF_CHECK(json.find(R"("targets":[{"name":"t1")") != std::string::npos);
      CAF_CHECK(json.find(R"("nats":{"state":"disabled")")
                != std::string::npos);
      CAF_CHECK(json.find(R"("store":{"state":"ok")") != std::string::npos);
      CAF_CHECK(json.find(R"("name":"collector/t1")") != std::string::npos);
    },
    [&](const caf::error& err) { CAF_FAIL(sys.render(err)); });
}

CAF_TEST(polling an unknown target is an error that names it) {
  auto rh = self->request(aut, caf::infinite, atom::poll_v,
                          std::string{"nope"});
  consume_messages();
  rh.receive([&](int64_t) { CAF_FAIL("unknown target polled"); },
             [&](const caf::error& err) {
               CAF_CHECK_EQUAL(error_code(err), ec::not_found);
               CAF_CHECK(error_message(err).find("nope") != std::string::npos);
             });
}

CAF_TEST_FIXTURE_SCOPE_END()
