#define CAF_SUITE store
#include "fixture.hpp"

#include "optischema/actors/store.hpp"

#include <rapidjson/document.h>

using namespace optischema;
using namespace optischema::actors;
using namespace optischema::test;

namespace {

struct fixture : actor_fixture {
  std::shared_ptr<history_db> db;
  store_actor st;

  fixture() {
    db = open_db();
    st = sys.spawn(store, db, std::chrono::milliseconds{600'000}, nullptr);
    store_recommendation(st, "t");
  }

  ~fixture() override {
    anon_send_exit(st, caf::exit_reason::user_shutdown);
    consume_messages();
  }

  /// Sends a patch; the stored recommendation as JSON, or the error's code.
  std::string patch(recommendation_patch f) {
    std::string out;
    auto rp = self->request(st, caf::infinite, atom::put_v, atom::recommend_v,
                            std::string{"r1"}, std::move(f));
    consume_messages();
    rp.receive([&](const recommendation& x) { out = to_json(x); },
               [&](const caf::error& err) {
                 out = std::string{"error:"} + to_string(error_code(err));
               });
    return out;
  }

  std::string status() {
    auto r = db->recommendation_by_id("r1");
    return r ? r->status : "";
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(store_tests, fixture)

CAF_TEST(a sandbox result landing after an apply keeps the apply) {
  // The apply lands first...
  patch([](recommendation& x) {
    x.status = "applied";
    x.applied_ms = 42;
    return std::optional<failure>{};
  });
  // ...then a test that started before it: it sees the stored version.
  auto stored = patch([](recommendation& x) {
    x.sandbox = R"({"verdict":"faster"})";
    if (x.status == "new" || x.status == "tested")
      x.status = "tested";
    return std::optional<failure>{};
  });
  CAF_CHECK_EQUAL(status(), "applied");
  CAF_CHECK_EQUAL(db->recommendation_by_id("r1")->applied_ms, 42);
  rapidjson::Document d;
  d.Parse(stored.c_str());
  CAF_CHECK(d["sandbox"].IsObject());
}

CAF_TEST(a patch that refuses leaves the recommendation as it was) {
  patch([](recommendation& x) {
    x.status = "applied";
    return std::optional<failure>{};
  });
  auto answer = patch([](recommendation& x) {
    if (x.status == "applied")
      return std::optional<failure>{failure{ec::conflict, "applied"}};
    x.status = "dismissed";
    return std::optional<failure>{};
  });
  CAF_CHECK_EQUAL(answer, "error:conflict");
  CAF_CHECK_EQUAL(status(), "applied");
}

CAF_TEST(a patch of an unknown id is not found) {
  std::string out;
  auto rp = self->request(st, caf::infinite, atom::put_v, atom::recommend_v,
                          std::string{"nope"},
                          recommendation_patch{[](recommendation&) {
                            return std::optional<failure>{};
                          }});
  consume_messages();
  rp.receive([&](const recommendation& x) { out = to_json(x); },
             [&](const caf::error& err) { out = to_string(error_code(err)); });
  CAF_CHECK_EQUAL(out, "not_found");
}

CAF_TEST_FIXTURE_SCOPE_END()
