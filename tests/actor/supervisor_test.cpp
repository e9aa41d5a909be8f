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
    auto conn = pg::parse_conninfo("host=127.0.0.1 port=1 user=x dbname=y");
    CAF_REQUIRE(conn.has_value());
    cfg.targets.push_back({"t1", *conn, {}});
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
    [&](const status_report& r) {
      auto& json = r.json;
      CAF_CHECK(json.find(R"("targets":[{"name":"t1")") != std::string::npos);
      CAF_CHECK(json.find(R"("nats":{"state":"disabled")")
                != std::string::npos);
      CAF_CHECK(json.find(R"("store":{"state":"ok")") != std::string::npos);
      CAF_CHECK(json.find(R"("name":"collector/t1")") != std::string::npos);
    },
    [&](const caf::error& err) { CAF_FAIL(sys.render(err)); });
}

CAF_TEST(a target whose collector cannot answer is listed by its name) {
  // Crashed and waiting for its restart: the status still names the target
  // (the API's targets and the dashboard key on it) and says why.
  anon_send_exit(state().components["collector/t1"].handle,
                 caf::exit_reason::kill);
  consume_messages();
  auto rh = self->request(aut, caf::infinite, atom::status_v);
  consume_messages();
  rh.receive(
    [&](const status_report& r) {
      CAF_CHECK(r.json.find(R"("targets":[{"name":"t1","state":"down")")
                != std::string::npos);
      CAF_CHECK(r.json.find("restarting after") != std::string::npos);
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

// -- what the SUPERVISOR asks its children, with stand-ins for them ---------

namespace {

/// Stands in for a target's APPLIER: answers with the recommendation in the
/// state the real one would leave it in.
caf::behavior applier_standin() {
  return {
    [](atom::apply, const std::string& id, const std::string&) {
      recommendation r;
      r.id = id;
      r.status = "applied";
      return r;
    },
    [](atom::rollback, const std::string& id, const std::string&) {
      recommendation r;
      r.id = id;
      r.status = "rolled_back";
      return r;
    },
  };
}

/// Stands in for a target's SANDBOX.
caf::behavior sandbox_standin() {
  return {
    [](atom::test, const std::string& id) {
      recommendation r;
      r.id = id;
      r.status = "tested";
      return r;
    },
  };
}

/// Stands in for a target's ADVISOR: keeps the workload analyses asked
/// for and answers them all on `tick`, with how many there were as `runs`.
struct advisor_standin_state {
  advisor_standin_state() = default; // not an aggregate (C++20 + CAF 0.17)
  static inline const char* name = "advisor-standin";
  std::vector<caf::response_promise> pending;
};

caf::behavior
advisor_standin(caf::stateful_actor<advisor_standin_state>* self) {
  return {
    [self](atom::analyze) {
      self->state.pending.push_back(self->make_response_promise());
    },
    [self](atom::tick) {
      auto n = self->state.pending.size();
      advisor_summary x;
      x.target = "t1";
      x.runs = n;
      for (auto& p : self->state.pending)
        p.deliver(x);
      self->state.pending.clear();
    },
  };
}

} // namespace

CAF_TEST(
  apply and rollback go to the APPLIER of the target and tests to its SANDBOX) {
  auto applier = sys.spawn(applier_standin);
  auto sandbox = sys.spawn(sandbox_standin);
  state().components["applier/t1"].handle = applier;
  state().components["sandbox/t1"].handle = sandbox;
  std::string who = "api (127.0.0.1)";
  auto apply = self->request(aut, caf::infinite, atom::apply_v,
                             std::string{"t1"}, std::string{"r1"}, who);
  expect((atom::apply, std::string, std::string, std::string),
         from(self).to(aut).with(_, std::string{"t1"}, std::string{"r1"}, who));
  // Delegated: the APPLIER answers the caller itself (in its mailbox).
  expect((atom::apply, std::string, std::string),
         from(self).to(applier).with(_, std::string{"r1"}, who));
  apply.receive(
    [](const recommendation& r) { CAF_CHECK_EQUAL(r.status, "applied"); },
    [&](const caf::error& err) { CAF_FAIL(sys.render(err)); });
  auto undo = self->request(aut, caf::infinite, atom::rollback_v,
                            std::string{"t1"}, std::string{"r1"}, who);
  expect((atom::rollback, std::string, std::string, std::string),
         from(self).to(aut));
  expect((atom::rollback, std::string, std::string),
         from(self).to(applier).with(_, std::string{"r1"}, who));
  undo.receive(
    [](const recommendation& r) { CAF_CHECK_EQUAL(r.status, "rolled_back"); },
    [&](const caf::error& err) { CAF_FAIL(sys.render(err)); });
  auto test = self->request(aut, caf::infinite, atom::test_v, std::string{"t1"},
                            std::string{"r1"});
  expect((atom::test, std::string, std::string), from(self).to(aut));
  expect((atom::test, std::string),
         from(self).to(sandbox).with(_, std::string{"r1"}));
  test.receive(
    [](const recommendation& r) { CAF_CHECK_EQUAL(r.status, "tested"); },
    [&](const caf::error& err) { CAF_FAIL(sys.render(err)); });
  for (auto& hdl : {applier, sandbox})
    anon_send_exit(hdl, caf::exit_reason::user_shutdown);
}

CAF_TEST(an apply on an unknown target is refused without asking anyone) {
  auto rh = self->request(aut, caf::infinite, atom::apply_v,
                          std::string{"nope"}, std::string{"r1"},
                          std::string{"me"});
  expect((atom::apply, std::string, std::string, std::string),
         from(self).to(aut));
  CAF_CHECK(!sched.has_job());
  rh.receive([](const recommendation&) { CAF_FAIL("answered"); },
             [](const caf::error& err) {
               CAF_CHECK_EQUAL(error_code(err), ec::not_found);
             });
}

CAF_TEST(workload analyses asked for while one runs join it) {
  auto advisor = sys.spawn(advisor_standin);
  state().components["advisor/t1"].handle = advisor;
  auto first = self->request(aut, caf::infinite, atom::analyze_v,
                             std::string{"t1"});
  auto second = self->request(aut, caf::infinite, atom::analyze_v,
                              std::string{"t1"});
  expect((atom::analyze, std::string), from(self).to(aut));
  expect((atom::analyze), from(aut).to(advisor));
  expect((atom::analyze, std::string), from(self).to(aut));
  // The second request is not sent on: one analysis answers both.
  CAF_CHECK(!sched.has_job());
  self->send(advisor, atom::tick_v);
  expect((atom::tick), from(self).to(advisor));
  expect((advisor_summary), from(advisor).to(aut));
  for (auto* rh : {&first, &second})
    rh->receive(
      [](const advisor_summary& x) {
        CAF_CHECK_EQUAL(x.target, "t1");
        CAF_CHECK_EQUAL(x.runs, 1u);
      },
      [&](const caf::error& err) { CAF_FAIL(sys.render(err)); });
  anon_send_exit(advisor, caf::exit_reason::user_shutdown);
}

CAF_TEST_FIXTURE_SCOPE_END()
