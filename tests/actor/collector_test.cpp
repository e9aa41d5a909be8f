#define CAF_SUITE collector
#include "fixture.hpp"
#include "test_util.hpp"

#include "optischema/actors/collector.hpp"
#include "optischema/actors/fingerprinter.hpp"
#include "optischema/actors/store.hpp"

using namespace optischema;
using namespace optischema::actors;
using namespace optischema::test;

namespace {

struct fixture : actor_fixture {
  std::shared_ptr<history_db> db;
  store_actor st;
  fingerprinter_actor fp;
  event_sink_actor sink;
  collector_actor aut;

  fixture() {
    db = open_db();
    st = sys.spawn(store, db, std::chrono::milliseconds{600'000}, nullptr);
    fp = sys.spawn(fingerprinter, size_t{100});
    sink = sys.spawn(recording_sink);
    auto conn = pg::parse_conninfo("host=127.0.0.1 port="
                                   + std::to_string(closed_port())
                                   + " user=x dbname=y connect_timeout=2");
    CAF_REQUIRE(conn.has_value());
    target_config target{"down", *conn, {}};
    aut = sys.spawn(collector, target, std::chrono::milliseconds{30'000},
                    size_t{10}, collector_peers{fp, st, {sink}});
    consume_messages();
  }

  ~fixture() override {
    for (auto h :
         {caf::actor_cast<caf::actor>(aut), caf::actor_cast<caf::actor>(st),
          caf::actor_cast<caf::actor>(fp), caf::actor_cast<caf::actor>(sink)})
      anon_send_exit(h, caf::exit_reason::user_shutdown);
    consume_messages();
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(collector_tests, fixture)

CAF_TEST(an unreachable target is reported down and retried sooner) {
  // The first tick comes after the STORE answered the baseline request.
  CAF_REQUIRE(sched.trigger_timeout());
  consume_messages();
  auto& events = events_of(sink);
  CAF_REQUIRE_EQUAL(events.size(), 1u);
  CAF_CHECK_EQUAL(events[0].type, "status");
  CAF_CHECK_EQUAL(events[0].target, "down");
  CAF_CHECK(events[0].payload.find(R"("state":"down")") != std::string::npos);
  CAF_CHECK(events[0].payload.find("db_unreachable") != std::string::npos);
  auto& cs = deref<collector_actor::stateful_base<collector_state>>(aut).state;
  CAF_CHECK_EQUAL(cs.failures, 1u);
  // Backoff: the retry comes after 1 s, not after the 30 s poll interval.
  CAF_CHECK_EQUAL(cs.backoff, std::chrono::milliseconds{1000});
  CAF_REQUIRE(sched.trigger_timeout());
  consume_messages();
  CAF_CHECK_EQUAL(cs.failures, 2u);
  CAF_CHECK_EQUAL(cs.backoff, std::chrono::milliseconds{2000});
  // A state that did not change is not announced again.
  CAF_CHECK_EQUAL(events.size(), 1u);
}

CAF_TEST(a poll request on a down target answers with the reason) {
  auto rh = self->request(aut, caf::infinite, atom::poll_v);
  consume_messages();
  bool failed = false;
  rh.receive([&](int64_t) { CAF_FAIL("poll of a closed port succeeded"); },
             [&](const caf::error& err) {
               failed = true;
               CAF_CHECK_EQUAL(error_code(err), ec::db_unreachable);
               CAF_CHECK(error_message(err).find("cannot reach")
                         != std::string::npos);
             });
  CAF_CHECK(failed);
  auto status = self->request(aut, caf::infinite, atom::status_v);
  consume_messages();
  status.receive(
    [&](const status_report& r) {
      CAF_CHECK_EQUAL(to_string(r.state), std::string{"down"});
      auto& json = r.json;
      CAF_CHECK(json.find(R"("state":"down")") != std::string::npos);
      CAF_CHECK(json.find(R"("name":"down")") != std::string::npos);
      CAF_CHECK(json.find("password") == std::string::npos);
    },
    [&](const caf::error& err) { CAF_FAIL(sys.render(err)); });
}

CAF_TEST_FIXTURE_SCOPE_END()
