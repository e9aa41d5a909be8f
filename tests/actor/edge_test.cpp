#define CAF_SUITE edge
#include "fixture.hpp"

#include "optischema/actors/edge.hpp"
#include "optischema/actors/store.hpp"
#include "optischema/web/api.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <mutex>
#include <optional>

// The EDGE's side of the protocol: which actor it asks for which request,
// with what, and what it answers. The STORE is the real one (RocksDB on
// disk) and the web server a real one on a loopback port; the SUPERVISOR is
// a stand-in that answers an apply the way the APPLIER would.

using namespace optischema;
using namespace optischema::actors;
using namespace optischema::test;

namespace {

/// Keeps the one answer the EDGE writes back.
struct recording_responder : web::responder {
  std::mutex mu;
  std::optional<web::http_response> answer;
  void respond(web::http_response res) override {
    std::lock_guard<std::mutex> lock{mu};
    answer = std::move(res);
  }
};

/// Stands in for the SUPERVISOR: an apply comes back applied, as the
/// APPLIER's reply would.
caf::behavior supervisor_standin() {
  return {
    [](atom::apply, const std::string& target, const std::string& id,
       const std::string&) {
      recommendation r;
      r.id = id;
      r.target = target;
      r.kind = "create_index";
      r.status = "applied";
      return r;
    },
  };
}

struct fixture : actor_fixture {
  std::shared_ptr<history_db> db = open_db();
  store_actor store_hdl;
  caf::actor sup;
  std::shared_ptr<web::server> server;
  edge_actor aut;

  fixture() {
    store_hdl = sys.spawn(store, db, std::chrono::milliseconds{600'000},
                          nullptr);
    store_recommendation(store_hdl, "t1");
    web::server_options opts;
    opts.listen = "127.0.0.1:0";
    opts.io_threads = 1;
    opts.access.api_token = "secret";
    auto started = web::server::start(opts);
    CAF_REQUIRE(started.has_value());
    server = *started;
    sup = sys.spawn(supervisor_standin);
    edge_config cfg;
    cfg.targets = {"t1"};
    cfg.api_token = "secret";
    aut = sys.spawn(edge, server, store_hdl,
                    caf::actor_cast<supervisor_actor>(sup), cfg);
    consume_messages();
  }

  ~fixture() override {
    for (auto hdl : {caf::actor_cast<caf::actor>(aut),
                     caf::actor_cast<caf::actor>(store_hdl), sup})
      anon_send_exit(hdl, caf::exit_reason::user_shutdown);
    consume_messages();
    server->stop();
  }

  /// A request as the web server hands it over, and where its answer lands.
  std::pair<web_request, std::shared_ptr<recording_responder>>
  request(std::string method, std::string path, std::string body = {}) {
    auto out = std::make_shared<recording_responder>();
    web::http_request req;
    req.method = std::move(method);
    req.path = std::move(path);
    req.body = std::move(body);
    req.content_type = "application/json";
    req.remote = "127.0.0.1";
    return {web_request{std::move(req), out}, out};
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(edge_tests, fixture)

CAF_TEST(every operation of the route table has a handler) {
  for (auto& r : web::routes()) {
    CAF_MESSAGE(r.method << " " << r.path);
    CAF_CHECK(edge_handles(r.operation));
  }
  CAF_CHECK(!edge_handles("no_such_operation"));
}

CAF_TEST(an apply asks the STORE for the recommendation then the SUPERVISOR) {
  auto [req, out] = request("POST", "/api/suggestions/apply", R"({"id":"r1"})");
  self->send(aut, atom::http_v, std::move(req));
  expect((atom::http, web_request), from(self).to(aut));
  expect((atom::get, atom::recommend, atom::by_id, std::string),
         from(aut).to(store_hdl).with(_, _, _, std::string{"r1"}));
  expect((recommendation), from(store_hdl).to(aut));
  expect((atom::apply, std::string, std::string, std::string),
         from(aut).to(sup).with(_, std::string{"t1"}, std::string{"r1"}, _));
  expect((recommendation), from(sup).to(aut));
  CAF_REQUIRE(out->answer.has_value());
  CAF_CHECK_EQUAL(out->answer->status, 200u);
  auto d = rapidjson::Document{};
  d.Parse(out->answer->body.c_str());
  CAF_REQUIRE(d.IsObject());
  CAF_CHECK_EQUAL(std::string{d["id"].GetString()}, "r1");
  CAF_CHECK_EQUAL(std::string{d["status"].GetString()}, "applied");
}

CAF_TEST(an unknown id is answered 404 by the STORE and never reaches apply) {
  auto [req, out] = request("POST", "/api/suggestions/apply",
                            R"({"id":"nope"})");
  self->send(aut, atom::http_v, std::move(req));
  expect((atom::http, web_request), from(self).to(aut));
  expect((atom::get, atom::recommend, atom::by_id, std::string),
         from(aut).to(store_hdl).with(_, _, _, std::string{"nope"}));
  consume_messages();
  CAF_REQUIRE(out->answer.has_value());
  CAF_CHECK_EQUAL(out->answer->status, 404u);
  CAF_CHECK(out->answer->body.find("/api/suggestions/latest")
            != std::string::npos);
}

CAF_TEST(a wrong method gets 405 with Allow and no actor is asked) {
  auto [req, out] = request("GET", "/api/suggestions/apply");
  self->send(aut, atom::http_v, std::move(req));
  expect((atom::http, web_request), from(self).to(aut));
  CAF_CHECK(!sched.has_job());
  CAF_REQUIRE(out->answer.has_value());
  CAF_CHECK_EQUAL(out->answer->status, 405u);
  auto& h = out->answer->headers;
  CAF_CHECK(std::find(h.begin(), h.end(),
                      std::make_pair(std::string{"Allow"}, std::string{"POST"}))
            != h.end());
}

CAF_TEST_FIXTURE_SCOPE_END()
