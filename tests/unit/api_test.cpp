#include "optischema/util/strings.hpp"
#include "optischema/web/access.hpp"
#include "optischema/web/api.hpp"
#include "optischema/web/prometheus.hpp"

#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include <set>

using namespace optischema;
using namespace optischema::web;

namespace {

rapidjson::Document parse(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

metrics_snapshot snap(std::string target, double scale) {
  metrics_snapshot s;
  s.target = std::move(target);
  s.ts_ms = 1000;
  s.interval_ms = 1000;
  for (int i = 0; i < 3; ++i) {
    auto& st = s.statements.emplace_back();
    st.fingerprint = std::string(15, 'a') + char('0' + i);
    st.query = "SELECT " + std::to_string(i);
    st.queryids = {i, -(int64_t{1} << 62)};
    st.total.calls = 10 * (i + 1);
    st.total.exec_time_ms = scale * (i + 1);
    st.interval = st.total;
  }
  return s;
}

} // namespace

TEST_CASE("every route is documented in the OpenAPI document", "[api]") {
  auto doc = parse(openapi_document());
  REQUIRE(doc.HasMember("paths"));
  std::set<std::string> documented;
  for (auto& p : doc["paths"].GetObject())
    for (auto& m : p.value.GetObject())
      documented.insert(std::string{m.name.GetString()} + " "
                        + p.name.GetString());
  std::set<std::string> served;
  for (auto& r : routes()) {
    std::string method = r.method;
    for (auto& c : method)
      c = static_cast<char>(std::tolower(c));
    served.insert(method + " " + r.path);
  }
  CHECK(documented == served);
}

TEST_CASE("the route table and the OpenAPI document agree on every operation",
          "[api]") {
  auto doc = parse(openapi_document());
  auto& schemas = doc["components"]["schemas"];
  std::set<std::string> operations;
  for (auto& r : routes()) {
    std::string method = r.method;
    for (auto& c : method)
      c = static_cast<char>(std::tolower(c));
    INFO(r.method << " " << r.path);
    REQUIRE(doc["paths"].HasMember(r.path));
    REQUIRE(doc["paths"][r.path].HasMember(method.c_str()));
    auto& op = doc["paths"][r.path][method.c_str()];
    CHECK(operations.insert(r.operation).second); // unique
    REQUIRE(op.HasMember("operationId"));
    CHECK(std::string{op["operationId"].GetString()} == r.operation);
    // The token is asked for exactly where the table says so.
    CHECK(op.HasMember("security") == (r.auth == access::token));
    CHECK((r.auth == access::token) == (method != "get"));
    // Every operation says what its answer looks like.
    const rapidjson::Value* answer = nullptr;
    for (auto& res : op["responses"].GetObject())
      if (res.name.GetString()[0] == '2')
        answer = &res.value;
    REQUIRE(answer != nullptr);
    REQUIRE(answer->HasMember("content"));
    // JSON everywhere but /metrics, whose text is Prometheus' format.
    auto& content = (*answer)["content"];
    REQUIRE(content.MemberCount() == 1);
    auto type = std::string{content.MemberBegin()->name.GetString()};
    CHECK(type
          == (r.path == std::string{"/metrics"} ? "text/plain"
                                                : "application/json"));
    auto& schema = content.MemberBegin()->value["schema"];
    CHECK(std::string{schema["$ref"].GetString()}
          == std::string{"#/components/schemas/"} + r.schema);
    CHECK(schemas.HasMember(r.schema));
  }
}

TEST_CASE("hot query parameters are checked with helpful errors", "[api]") {
  auto q = parse_hot_query(
    {{"limit", "5"}, {"sort", "calls"}, {"window", "interval"}});
  REQUIRE(q);
  CHECK(q->limit == 5);
  CHECK(q->sort == hot_sort::calls);
  CHECK(q->window == metrics_window::interval);
  auto d = parse_hot_query({});
  REQUIRE(d);
  CHECK(d->limit == 20);
  CHECK(d->sort == hot_sort::total_time);
  for (auto bad :
       std::vector<std::map<std::string, std::string>>{{{"limit", "0"}},
                                                       {{"limit", "abc"}},
                                                       {{"limit", "5000"}},
                                                       {{"sort", "fastest"}},
                                                       {{"window", "week"}},
                                                       {{"target", "x y"}}}) {
    auto r = parse_hot_query(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ec::bad_request);
    CHECK_THAT(r.error().message, Catch::Contains(bad.begin()->second));
    CHECK(error_response(r.error()).status == 400);
  }
}

TEST_CASE("history parameters: range, from/to and resolution", "[api]") {
  const int64_t now = 100 * 86'400'000LL;
  const int64_t day = 86'400'000;
  auto q = parse_history_query({{"fingerprint", "abcd"}, {"range", "2h"}}, now,
                               day);
  REQUIRE(q);
  CHECK(q->to_ms == now);
  CHECK(q->from_ms == now - 7'200'000);
  CHECK_FALSE(q->hourly);
  auto week = parse_history_query({{"range", "7d"}}, now, day);
  REQUIRE(week);
  CHECK(week->hourly);
  CHECK(week->fingerprint.empty());
  auto forced = parse_history_query({{"range", "7d"}, {"resolution", "raw"}},
                                    now, day);
  REQUIRE(forced);
  CHECK_FALSE(forced->hourly);
  CHECK_FALSE(parse_history_query({{"fingerprint", "zz"}}, now, day));
  CHECK_FALSE(parse_history_query({{"range", "91d"}}, now, day));
  CHECK_FALSE(parse_history_query({{"from", "10"}, {"to", "5"}}, now, day));
  CHECK_FALSE(parse_history_query({{"resolution", "minute"}}, now, day));
}

TEST_CASE("hot answers merge targets and carry every field", "[api]") {
  auto a = snap("a", 1);
  auto b = snap("b", 100);
  hot_query q;
  q.limit = 4;
  auto d = parse(render_hot({&a, &b}, q));
  auto& xs = d["statements"];
  REQUIRE(xs.Size() == 4);
  // b's statements cost more; within b the most expensive first.
  CHECK(std::string{xs[0]["target"].GetString()} == "b");
  CHECK(xs[0]["total_time_ms"].GetDouble() == Approx(300));
  CHECK(xs[3]["total_time_ms"].GetDouble()
        <= xs[2]["total_time_ms"].GetDouble());
  for (auto& x : xs.GetArray()) {
    for (auto* field : {"fingerprint", "queryids", "query", "calls",
                        "total_time_ms", "mean_time_ms", "rows",
                        "cache_hit_ratio", "share_of_total_time", "interval"})
      CHECK(x.HasMember(field));
    // queryids as strings: a JavaScript number would round these.
    CHECK(std::string{x["queryids"][1].GetString()} == "-4611686018427387904");
  }
  CHECK(xs[0]["share_of_total_time"].GetDouble() == Approx(0.5));
  CHECK(xs[0]["mean_time_ms"].GetDouble() == Approx(10));
}

TEST_CASE("summary names targets without data", "[api]") {
  auto a = snap("a", 1);
  auto d = parse(render_summary({&a}, {"a", "b"}));
  REQUIRE(d["targets"].Size() == 2);
  CHECK(d["targets"][0]["summary"]["statements"].GetUint() == 3);
  CHECK(d["targets"][1]["polled"].IsNull());
}

TEST_CASE("raw answers page through all statements", "[api]") {
  auto a = snap("a", 1);
  auto b = snap("b", 1);
  raw_query q;
  q.limit = 2;
  q.offset = 3;
  auto d = parse(render_raw({&a, &b}, q));
  CHECK(d["total"].GetUint() == 6);
  REQUIRE(d["statements"].Size() == 2);
  CHECK(std::string{d["statements"][0]["target"].GetString()} == "b");
}

// -- the one authorisation rule (web/access.hpp)
// ---------------------------------

namespace {

request_facts post(std::string_view content_type = "application/json",
                   std::string_view authorization = {}) {
  request_facts r;
  r.method = "POST";
  r.host = "127.0.0.1:8080";
  r.has_host = true;
  r.content_type = content_type;
  r.authorization = authorization;
  return r;
}

} // namespace

TEST_CASE("access: with a token every state-changing request needs it",
          "[api][access]") {
  access_policy p;
  p.api_token = "s3cret-token-0123456789";
  auto denied = admit(post(), p);
  REQUIRE(denied);
  CHECK(denied->status == 401);
  CHECK(denied->code == "unauthorized");
  CHECK(denied->headers.at(0).first == "WWW-Authenticate");
  for (auto auth :
       {"Bearer s3cret-token-012345678", "Bearer s3cret-token-0123456789!",
        "Basic s3cret-token-0123456789", "s3cret-token-0123456789",
        "Bearer "}) {
    INFO(auth);
    CHECK(admit(post("application/json", auth), p)->status == 401);
  }
  CHECK_FALSE(
    admit(post("application/json", "Bearer s3cret-token-0123456789"), p));
  CHECK_FALSE(
    admit(post("application/json", "bearer s3cret-token-0123456789"), p));
  // Any method but GET, HEAD and OPTIONS changes state.
  for (auto m : {"PUT", "DELETE", "PATCH", "FOO"}) {
    auto r = post();
    r.method = m;
    CHECK(admit(r, p)->status == 401);
  }
  for (auto m : {"GET", "HEAD", "OPTIONS"}) {
    auto r = post("");
    r.method = m;
    CHECK_FALSE(admit(r, p));
  }
  CHECK_FALSE(token_matches("", ""));
  CHECK_FALSE(token_matches("abc", "ab"));
  CHECK(token_matches("abc", "abc"));
}

TEST_CASE("access: state-changing requests are JSON only", "[api][access]") {
  access_policy p;
  for (auto type : {"text/plain", "application/x-www-form-urlencoded",
                    "multipart/form-data; boundary=x", "", "application/jsonp",
                    "application/json-seq", "text/json"}) {
    INFO(type);
    auto denied = admit(post(type), p);
    REQUIRE(denied);
    CHECK(denied->status == 415);
    CHECK_THAT(denied->message, Catch::Contains("application/json"));
  }
  for (auto type : {"application/json", "Application/JSON",
                    "application/json; charset=utf-8", " application/json "})
    CHECK_FALSE(admit(post(type), p));
}

TEST_CASE("access: Origin of POSTs and WebSocket upgrades", "[api][access]") {
  access_policy p;
  p.cors_origins = {"http://dev.example:3000/"};
  auto from = [&](std::string_view origin, std::string_view method = "POST",
                  bool ws = false) {
    auto r = post();
    r.method = method;
    r.origin = origin;
    r.has_origin = true;
    r.websocket = ws;
    return admit(r, p);
  };
  auto evil = from("http://evil.example");
  REQUIRE(evil);
  CHECK(evil->status == 403);
  CHECK(evil->code == "forbidden_origin");
  CHECK_THAT(evil->message, Catch::Contains("--cors-origin"));
  CHECK(from("null")->status == 403);
  CHECK(from("http://127.0.0.1:8081")->status == 403);
  CHECK(from("http://127.0.0.1")->status == 403);
  CHECK_FALSE(from("http://127.0.0.1:8080"));
  CHECK_FALSE(from("https://127.0.0.1:8080"));
  CHECK_FALSE(from("http://dev.example:3000"));
  CHECK_FALSE(from("HTTP://DEV.EXAMPLE:3000"));
  CHECK(from("http://dev.example:3001")->status == 403);
  // Reads are left to the browser's same-origin policy; the WebSocket is
  // not (a page elsewhere can open one and read the stream).
  CHECK_FALSE(from("http://evil.example", "GET"));
  CHECK(from("http://evil.example", "GET", true)->status == 403);
  CHECK_FALSE(from("http://127.0.0.1:8080", "GET", true));
  // Default ports are the same origin either way.
  auto r = post();
  r.host = "opti.example";
  p.allowed_hosts = {"opti.example"};
  r.origin = "https://opti.example:443";
  r.has_origin = true;
  CHECK_FALSE(admit(r, p));
  p.cors_origins = {"*"};
  CHECK_FALSE(from("http://evil.example"));
}

TEST_CASE("access: Host must name the engine (DNS rebinding)",
          "[api][access]") {
  access_policy p;
  p.allowed_hosts = {"opti.example.com", "proxy.internal:443"};
  auto at = [&](std::string_view host) {
    auto r = post();
    r.method = "GET";
    r.host = host;
    return admit(r, p);
  };
  for (auto ok :
       {"127.0.0.1:8080", "127.0.0.1", "10.1.2.3:80", "[::1]:8080", "[::1]",
        "localhost", "LOCALHOST:8080", "app.localhost:3000", "opti.example.com",
        "OPTI.example.com.", "opti.example.com:8443", "proxy.internal"}) {
    INFO(ok);
    CHECK_FALSE(at(ok));
  }
  for (auto bad : {"evil.example", "evil.example:8080", "opti.example.com.evil",
                   "sub.opti.example.com", "localhost.evil.example", "::1",
                   "[::1", "a:b:c", "127.0.0.1:80x", "", "127.0.0.1.nip.io"}) {
    INFO(bad);
    auto denied = at(bad);
    REQUIRE(denied);
    CHECK(denied->status == 421);
    CHECK(denied->code == "misdirected_request");
  }
  auto none = post();
  none.has_host = false;
  none.host = {};
  CHECK_FALSE(admit(none, p)); // HTTP/1.0, not a browser
  p.allowed_hosts = {"*"};
  CHECK_FALSE(at("evil.example"));
}

TEST_CASE("access: strict UTF-8", "[api][access]") {
  // What the server accepts as a JSON body (util's valid_utf8).
  using optischema::valid_utf8;
  for (auto ok : {"", "plain", "caf\xc3\xa9", "\xe2\x82\xac",
                  "\xf0\x9f\x98\x80", "\xef\xbf\xbf"})
    CHECK(valid_utf8(ok));
  for (auto bad : {"\xff", "\xc0\xaf", "\xc3", "\xe0\x80\xaf", "\xed\xa0\x80",
                   "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80", "a\x80"})
    CHECK_FALSE(valid_utf8(bad));
}

TEST_CASE("access: a page's CSP lets exactly its inline scripts run",
          "[api][access]") {
  // echo -n 'alert(1)' | openssl dgst -sha256 -binary | base64
  const std::string alert_hash
    = "'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='";
  auto html = R"(<html><head><script src="/a.js" async=""></script>)"
              R"(<SCRIPT>alert(1)</SCRIPT><scripts>x</scripts>)"
              R"(<script type="text/javascript" >alert(1)</script>)"
              R"(<script nosrc="1">b()</script></head></html>)";
  auto hashes = inline_script_hashes(html);
  REQUIRE(hashes.size() == 2);
  CHECK(hashes[0] == alert_hash);
  auto csp = page_csp(html);
  CHECK_THAT(csp, Catch::Contains("script-src 'self' " + alert_hash + " "));
  auto script_src = csp.substr(csp.find("script-src"));
  script_src = script_src.substr(0, script_src.find(';'));
  CHECK(script_src.find("unsafe") == std::string::npos);
  CHECK_THAT(csp, Catch::Contains("frame-ancestors 'none'"));
  CHECK_THAT(default_csp(), Catch::Contains("default-src 'none'"));
  CHECK_THAT(default_csp(), Catch::Contains("frame-ancestors 'none'"));
  CHECK(inline_script_hashes("<script>unterminated").empty());
}

// -- paging
// ---------------------------------------------------------------------

TEST_CASE("lists are paged with bounds and a total", "[api]") {
  auto p = parse_page_query({}, 100, 1000);
  REQUIRE(p);
  CHECK(p->limit == 100);
  CHECK(p->offset == 0);
  for (auto [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"limit", "0"},
                                                        {"limit", "1001"},
                                                        {"limit", "abc"},
                                                        {"limit", "-1"},
                                                        {"offset", "-1"},
                                                        {"offset", "1000001"},
                                                        {"offset", "1e3"}}) {
    INFO(key << "=" << value);
    auto bad = parse_page_query({{key, value}}, 100, 1000);
    REQUIRE_FALSE(bad);
    CHECK_THAT(bad.error().message, Catch::Contains(key));
  }
  auto page = render_page(R"([{"a":1},{"a":2},{"a":3}])", "items",
                          page_query{2, 1});
  REQUIRE(page);
  auto d = parse(*page);
  CHECK(d["total"].GetUint64() == 3);
  CHECK(d["offset"].GetUint64() == 1);
  CHECK(d["limit"].GetUint64() == 2);
  REQUIRE(d["items"].Size() == 2);
  CHECK(d["items"][0]["a"].GetInt() == 2);
  auto past = parse(*render_page("[1,2]", "items", page_query{10, 5}));
  CHECK(past["items"].Size() == 0);
  CHECK(past["total"].GetUint64() == 2);
  CHECK_FALSE(render_page("{}", "items", {}));
}

TEST_CASE("a limit reached answers 429", "[api]") {
  auto res = error_response(failure{ec::budget_exhausted, "later"});
  CHECK(res.status == 429);
}

TEST_CASE("the OpenAPI document states the access rule on every change",
          "[api][access]") {
  auto doc = parse(openapi_document());
  for (auto& p : doc["paths"].GetObject())
    for (auto& m : p.value.GetObject()) {
      INFO(m.name.GetString() << " " << p.name.GetString());
      auto& op = m.value;
      CHECK(op["responses"].HasMember("421"));
      if (std::string{m.name.GetString()} == "get")
        continue;
      REQUIRE(op.HasMember("security"));
      CHECK(op["security"][0].HasMember("bearer"));
      for (auto code : {"401", "403", "415", "429"})
        CHECK(op["responses"].HasMember(code));
    }
}

TEST_CASE("metrics in Prometheus format come from the status document",
          "[api][metrics]") {
  auto text = optischema::web::prometheus_text(R"({
    "state":"degraded","version":"1.2","uptime_ms":5000,
    "targets":[{"name":"a\"b\\c","state":"down","polls":3,"failures":3,
      "statements":0,
      "poll_seconds":{"le":[0.01,1],"counts":[1,3],"sum":0.5,"count":3}}],
    "nats":{"state":"disabled"},
    "apply":{"targets":[{"applied":2,"failed":1}]}})");
  // Label values escape quotes and backslashes; families are typed once.
  CHECK_THAT(
    text,
    Catch::Contains("optischema_polls_total{target=\"a\\\"b\\\\c\"} 3\n"));
  CHECK_THAT(text,
             Catch::Contains("# TYPE optischema_poll_duration_seconds "
                             "histogram\n"));
  CHECK_THAT(text,
             Catch::Contains("optischema_poll_duration_seconds_bucket{"
                             "target=\"a\\\"b\\\\c\",le=\"0.01\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("le=\"+Inf\"} 3\n"));
  CHECK_THAT(text,
             Catch::Contains("optischema_poll_duration_seconds_sum{"
                             "target=\"a\\\"b\\\\c\"} 0.5\n"));
  CHECK_THAT(text,
             Catch::Contains("optischema_target_up{target=\"a\\\"b\\\\c\"} 0"));
  CHECK_THAT(text, Catch::Contains("optischema_degraded 1\n"));
  CHECK_THAT(text, Catch::Contains("optischema_uptime_seconds 5\n"));
  CHECK_THAT(text,
             Catch::Contains("optischema_applies_total{target=\"a\\\"b\\\\c\","
                             "outcome=\"failed\"} 1\n"));
  // A family without figures in the document is left out, not made up.
  CHECK_THAT(text, !Catch::Contains("optischema_llm_calls_total"));
  CHECK_THAT(text, !Catch::Contains("optischema_events_published_total"));
  // No status (a supervisor that did not answer): a scrape that says so.
  auto none = optischema::web::prometheus_text("not json");
  CHECK_THAT(none, Catch::Contains("\noptischema_up 0\n"));
  CHECK_THAT(none, !Catch::Contains("optischema_polls_total"));
}

TEST_CASE("silence bodies: a selector, hours in range, nothing else", "[api]") {
  auto ok = parse_silence_request(
    R"({"rule": "plan_change", "target": "shop", "fingerprint": "00ab", )"
    R"("hours": 1.5, "comment": "release 42 \u00e9"})");
  REQUIRE(ok);
  CHECK(ok->rule == "plan_change");
  CHECK(ok->target == "shop");
  CHECK(ok->fingerprint == "00ab");
  CHECK(ok->hours == 1.5);
  CHECK(ok->comment == "release 42 \xc3\xa9");
  for (const char* bad :
       {R"({"hours": 1})",  // silences everything
        R"({"rule": "x"})", // for how long?
        R"({"rule": "x", "hours": 0})", R"({"rule": "x", "hours": 721})",
        R"({"rule": "x", "hours": "1"})", R"({"rule": "x y", "hours": 1})",
        R"({"target": "a;b", "hours": 1})", R"({"rule": 5, "hours": 1})",
        R"({"rule": "x", "hours": 1, "sql": "DROP TABLE t"})",
        R"([{"rule": "x", "hours": 1}])", "", "{"}) {
    auto r = parse_silence_request(bad);
    INFO(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ec::bad_request);
    CHECK(r.error().message.find("hours") != std::string::npos);
  }
  auto long_comment = parse_silence_request(R"({"rule": "x", "hours": 1, )"
                                            R"("comment": ")"
                                            + std::string(501, 'c') + "\"}");
  CHECK_FALSE(long_comment);
}

TEST_CASE("alert id bodies: exactly an id of letters digits and _ - : .",
          "[api]") {
  auto ok = parse_alert_id_request(R"({"id": "plan_change:shop:00ab"})");
  REQUIRE(ok);
  CHECK(*ok == "plan_change:shop:00ab");
  for (const char* bad : {R"({"id": ""})", R"({"id": "a b"})", R"({"id": 1})",
                          R"({"id": "a", "x": 1})", R"({})", "[]"}) {
    INFO(bad);
    CHECK_FALSE(parse_alert_id_request(bad));
  }
}
