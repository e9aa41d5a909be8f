// Tests for the engine's HTTP/WebSocket port (web/include/.../server.hpp),
// over real loopback sockets with a Beast client.

// Boost 1.74 + GCC 12 + C++20: <utility> before any asio include (G4).
// clang-format off
#include <utility>
// clang-format on

#include "optischema/web/server.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <catch2/catch.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace optischema;
using namespace std::chrono_literals;

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
namespace fs = std::filesystem;
using tcp = net::ip::tcp;
using response = http::response<http::string_body>;
using header_list = std::vector<std::pair<http::field, std::string>>;

/// Every client operation gives up after this, so a bug fails a test instead
/// of hanging the suite.
constexpr auto op_timeout = 10s;

std::string sv(beast::string_view x) {
  return std::string{x.data(), x.size()};
}

rapidjson::Document parse_json(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str());
  INFO("JSON text: " << text);
  REQUIRE_FALSE(doc.HasParseError());
  return doc;
}

std::string member(const rapidjson::Value& x, const char* key) {
  auto i = x.FindMember(key);
  if (i == x.MemberEnd() || !i->value.IsString())
    return "<missing>";
  return i->value.GetString();
}

/// Waits until `pred` holds (the server updates counters after the client
/// already has its bytes).
bool eventually(const std::function<bool()>& pred) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// -- fixtures -----------------------------------------------------------------

struct temp_dir {
  temp_dir() {
    static std::atomic<int> counter{0};
    path = fs::temp_directory_path()
      / ("optischema-web-test-" + std::to_string(::getpid()) + "-"
         + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }

  ~temp_dir() {
    std::error_code err;
    fs::remove_all(path, err);
  }

  void write(const std::string& name, const std::string& content) const {
    auto file = path / name;
    fs::create_directories(file.parent_path());
    std::ofstream out{file, std::ios::binary};
    out << content;
  }

  fs::path path;
};

/// A running server with a test handler. The handler answers:
/// /health -> {"status":"ok"}; /api/echo -> the request as JSON;
/// /api/later -> 202 from another thread after 100 ms; /api/drop -> drops
/// the responder; /api/throw -> throws.
struct test_server {
  explicit test_server(web::server_options opts, bool with_handler = true) {
    if (opts.listen == web::server_options{}.listen)
      opts.listen = "127.0.0.1:0";
    auto res = web::server::start(std::move(opts));
    INFO((res ? std::string{} : res.error().message));
    REQUIRE(res.has_value());
    srv = *res;
    if (with_handler)
      install_handler();
  }

  ~test_server() {
    srv->stop();
    std::lock_guard<std::mutex> guard{mtx};
    for (auto& t : workers)
      t.join();
  }

  void install_handler() {
    srv->set_handler(
      [this](web::http_request req, std::shared_ptr<web::responder> out) {
        ++calls;
        handle(std::move(req), std::move(out));
      });
  }

  void handle(web::http_request req, std::shared_ptr<web::responder> out) {
    if (req.path == "/health") {
      out->respond({200, "application/json", R"({"status":"ok"})", {}});
    } else if (req.path.starts_with("/api/echo")) {
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> w{buf};
      w.StartObject();
      for (auto& [key, value] :
           std::vector<std::pair<const char*, const std::string*>>{
             {"method", &req.method},
             {"path", &req.path},
             {"body", &req.body},
             {"content_type", &req.content_type},
             {"authorization", &req.authorization},
             {"remote", &req.remote}}) {
        w.Key(key);
        w.String(*value);
      }
      w.Key("query");
      w.StartObject();
      for (auto& [key, value] : req.query) {
        w.Key(key.c_str());
        w.String(value);
      }
      w.EndObject();
      w.EndObject();
      out->respond({200,
                    "application/json",
                    buf.GetString(),
                    {{"X-Test", "yes"}, {"Content-Length", "999"}}});
    } else if (req.path == "/api/later") {
      std::lock_guard<std::mutex> guard{mtx};
      workers.emplace_back([out = std::move(out)] {
        std::this_thread::sleep_for(100ms);
        out->respond({202, "text/plain", "later", {}});
      });
    } else if (req.path == "/api/headers") {
      out->respond({200,
                    "text/plain",
                    "h",
                    {{"X-Good", "ok"},
                     {"X-Bad", "a\r\nX-Injected: 1"},
                     {"Bad Name", "x"},
                     {"Transfer-Encoding", "chunked"}}});
    } else if (req.path == "/api/drop") {
      // nop: `out` dies here without an answer
    } else if (req.path == "/api/throw") {
      throw std::runtime_error("boom");
    } else {
      out->respond({404, "application/json", R"({"error":"handler"})", {}});
    }
  }

  uint16_t port() const {
    return srv->port();
  }

  std::shared_ptr<web::server> srv;
  std::atomic<int> calls{0};
  std::mutex mtx;
  std::vector<std::thread> workers;
};

// -- clients ------------------------------------------------------------------

/// Runs one async operation on `ioc` to completion; `stream`'s timer bounds
/// it. Returns the operation's error.
template <class Stream, class Start>
beast::error_code run_op(net::io_context& ioc, Stream& stream, Start start) {
  beast::error_code result = net::error::would_block;
  bool done = false;
  stream.expires_after(op_timeout);
  start([&](beast::error_code ec, auto&&...) {
    result = ec;
    done = true;
  });
  ioc.restart();
  ioc.run();
  // No CHECK here: this also runs on helper threads, and Catch2 v2
  // assertions are not thread-safe.
  return done ? result : beast::error_code{net::error::timed_out};
}

/// A keep-alive HTTP/1.1 connection.
class http_client {
public:
  explicit http_client(uint16_t port) : stream_(ioc_) {
    tcp::endpoint ep{net::ip::make_address("127.0.0.1"), port};
    auto ec = run([&](auto h) { stream_.async_connect(ep, h); });
    REQUIRE_FALSE(ec);
  }

  beast::error_code send(http::request<http::string_body> req) {
    req.set(http::field::host, "127.0.0.1");
    req.prepare_payload();
    return run([&](auto h) { http::async_write(stream_, req, h); });
  }

  beast::error_code send_raw(const std::string& text) {
    return run(
      [&](auto h) { net::async_write(stream_, net::buffer(text), h); });
  }

  /// Reads one response; `head` for answers to HEAD (no body follows).
  response receive(bool head = false) {
    beast::error_code ec;
    auto res = receive(ec, head);
    INFO("read error: " << ec.message());
    REQUIRE_FALSE(ec);
    return res;
  }

  response receive(beast::error_code& ec, bool head = false) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    parser.skip(head);
    ec = run([&](auto h) { http::async_read(stream_, buf_, parser, h); });
    return parser.release();
  }

  response request(http::verb verb, const std::string& target,
                   const header_list& headers = {}, std::string body = {}) {
    http::request<http::string_body> req{verb, target, 11};
    for (auto& [field, value] : headers)
      req.set(field, value);
    req.body() = std::move(body);
    REQUIRE_FALSE(send(std::move(req)));
    return receive(verb == http::verb::head);
  }

  /// True once the server closed the connection.
  bool closed_by_peer() {
    beast::error_code ec;
    receive(ec);
    return ec == http::error::end_of_stream || ec == net::error::eof
      || ec == net::error::connection_reset;
  }

private:
  template <class Start>
  beast::error_code run(Start start) {
    return run_op(ioc_, stream_, start);
  }

  net::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buf_;
};

response get(uint16_t port, const std::string& target,
             const header_list& headers = {}) {
  http_client client{port};
  return client.request(http::verb::get, target, headers);
}

class ws_client {
public:
  explicit ws_client(uint16_t port) : ws_(ioc_) {
    tcp::endpoint ep{net::ip::make_address("127.0.0.1"), port};
    auto ec
      = run([&](auto h) { beast::get_lowest_layer(ws_).async_connect(ep, h); });
    REQUIRE_FALSE(ec);
    auto host = "127.0.0.1:" + std::to_string(port);
    ec = run([&](auto h) { ws_.async_handshake(res_, host, "/ws", h); });
    REQUIRE_FALSE(ec);
  }

  std::string read() {
    beast::error_code ec;
    auto text = read(ec);
    INFO("ws read error: " << ec.message());
    REQUIRE_FALSE(ec);
    return text;
  }

  std::string read(beast::error_code& ec) {
    beast::flat_buffer buf;
    ec = run([&](auto h) { ws_.async_read(buf, h); });
    return beast::buffers_to_string(buf.data());
  }

  void write(const std::string& text, bool binary = false) {
    ws_.binary(binary);
    auto ec = run([&](auto h) { ws_.async_write(net::buffer(text), h); });
    REQUIRE_FALSE(ec);
  }

  /// The type field of the next frame.
  std::string read_type() {
    auto doc = parse_json(read());
    return member(doc, "type");
  }

  const websocket::response_type& handshake_response() const {
    return res_;
  }

  websocket::stream<beast::tcp_stream>& stream() {
    return ws_;
  }

private:
  template <class Start>
  beast::error_code run(Start start) {
    return run_op(ioc_, beast::get_lowest_layer(ws_), start);
  }

  net::io_context ioc_;
  websocket::stream<beast::tcp_stream> ws_;
  websocket::response_type res_;
};

std::shared_ptr<const std::string> frame(std::string text) {
  return std::make_shared<const std::string>(std::move(text));
}

} // namespace

// -- REST routing -------------------------------------------------------------

TEST_CASE("web: /health and /api requests reach the handler", "[web]") {
  test_server s{{}};
  auto res = get(s.port(), "/health");
  CHECK(res.result_int() == 200);
  CHECK(res.body() == R"({"status":"ok"})");
  CHECK(sv(res[http::field::content_type]) == "application/json");
  CHECK(sv(res[http::field::server]) == "optischema");
  CHECK(sv(res[http::field::content_length]) == "15");
  // Two more requests on one keep-alive connection; decoded path and query.
  http_client client{s.port()};
  auto echo = client.request(
    http::verb::post, "/api/echo/a%20b?x=1&y=hello%20world&z=a+b&x=2",
    {{http::field::content_type, "application/json; charset=utf-8"},
     {http::field::authorization, "Bearer tok"}},
    "payload");
  REQUIRE(echo.result_int() == 200);
  CHECK(sv(echo["X-Test"]) == "yes");
  // The handler cannot corrupt the framing with its own Content-Length.
  CHECK(sv(echo[http::field::content_length])
        == std::to_string(echo.body().size()));
  auto doc = parse_json(echo.body());
  CHECK(member(doc, "method") == "POST");
  CHECK(member(doc, "path") == "/api/echo/a b");
  CHECK(member(doc, "body") == "payload");
  CHECK(member(doc, "content_type") == "application/json; charset=utf-8");
  CHECK(member(doc, "authorization") == "Bearer tok");
  CHECK(member(doc, "remote").starts_with("127.0.0.1:"));
  CHECK(member(doc["query"], "x") == "2");
  CHECK(member(doc["query"], "y") == "hello world");
  CHECK(member(doc["query"], "z") == "a b");
  auto again = client.request(http::verb::get, "/health");
  CHECK(again.body() == R"({"status":"ok"})");
  CHECK(s.calls == 3);
  CHECK(eventually([&] { return s.srv->stats().requests == 3; }));
}

TEST_CASE("web: handler headers cannot break the response", "[web]") {
  test_server s{{}};
  http_client client{s.port()};
  auto res = client.request(http::verb::get, "/api/headers");
  CHECK(res.body() == "h");
  CHECK(sv(res["X-Good"]) == "ok");
  CHECK(res.count("X-Bad") == 0);
  CHECK(res.count("X-Injected") == 0);
  CHECK(res.count(http::field::transfer_encoding) == 0);
  CHECK(client.request(http::verb::get, "/health").result_int() == 200);
}

TEST_CASE("web: Expect: 100-continue gets the go-ahead", "[web]") {
  test_server s{{}};
  http_client client{s.port()};
  REQUIRE_FALSE(client.send_raw("POST /api/echo HTTP/1.1\r\n"
                                "Host: 127.0.0.1\r\n"
                                "Content-Type: application/json\r\n"
                                "Content-Length: 5\r\n"
                                "Expect: 100-continue\r\n\r\n"));
  // Without the interim answer this read times out: the body is not sent.
  CHECK(client.receive().result_int() == 100);
  REQUIRE_FALSE(client.send_raw("hello"));
  auto res = client.receive();
  CHECK(res.result_int() == 200);
  CHECK(member(parse_json(res.body()), "body") == "hello");
}

TEST_CASE("web: a handler may answer later from another thread", "[web]") {
  test_server s{{}};
  auto start = std::chrono::steady_clock::now();
  http_client client{s.port()};
  auto res = client.request(http::verb::get, "/api/later");
  CHECK(std::chrono::steady_clock::now() - start >= 100ms);
  CHECK(res.result_int() == 202);
  CHECK(res.body() == "later");
  CHECK(sv(res[http::field::content_type]) == "text/plain");
  // The connection goes on after a deferred answer.
  CHECK(client.request(http::verb::get, "/health").result_int() == 200);
}

TEST_CASE("web: a dropped responder or a throwing handler yields 500",
          "[web]") {
  test_server s{{}};
  http_client client{s.port()};
  auto dropped = client.request(http::verb::get, "/api/drop");
  CHECK(dropped.result_int() == 500);
  CHECK(member(parse_json(dropped.body())["error"], "code") == "internal");
  auto thrown = client.request(http::verb::get, "/api/throw");
  CHECK(thrown.result_int() == 500);
  CHECK(client.request(http::verb::get, "/health").result_int() == 200);
}

TEST_CASE("web: 503 until a handler is set and 404 JSON without static files",
          "[web]") {
  test_server s{{}, false};
  auto res = get(s.port(), "/health");
  CHECK(res.result_int() == 503);
  CHECK(
    res.body()
    == R"({"error":{"code":"starting","message":"the engine is starting"}})");
  CHECK(get(s.port(), "/api/metrics/hot").result_int() == 503);
  auto missing = get(s.port(), "/x");
  CHECK(missing.result_int() == 404);
  CHECK(missing.body()
        == R"({"error":{"code":"not_found","message":"no route for GET /x"}})");
  CHECK(get(s.port(), "/").result_int() == 404);
  s.install_handler();
  CHECK(get(s.port(), "/health").result_int() == 200);
}

// -- static files -------------------------------------------------------------

TEST_CASE("web: static files of a Next.js export", "[web]") {
  temp_dir tmp;
  auto root = tmp.path / "out";
  tmp.write("out/index.html", "<h1>home</h1>");
  tmp.write("out/queries/index.html", "<h1>queries</h1>");
  tmp.write("out/about.html", "<h1>about</h1>");
  tmp.write("out/app.js", "console.log(1)");
  tmp.write("out/style.css", "body{}");
  tmp.write("out/data.json", "{}");
  tmp.write("out/logo.svg", "<svg/>");
  tmp.write("out/logo.png", "PNG");
  tmp.write("out/favicon.ico", "ICO");
  tmp.write("out/font.woff2", "WOFF");
  tmp.write("out/app.js.map", "{}");
  tmp.write("out/robots.txt", "User-agent: *");
  tmp.write("out/blob.bin", "BIN");
  tmp.write("out/_next/static/chunks/main-abc.js", "main()");
  tmp.write("out/404.html", "<h1>lost</h1>");
  web::server_options opts;
  opts.static_dir = root.string();
  test_server s{opts};
  SECTION("pages") {
    auto home = get(s.port(), "/");
    CHECK(home.result_int() == 200);
    CHECK(home.body() == "<h1>home</h1>");
    CHECK(sv(home[http::field::content_type]) == "text/html; charset=utf-8");
    CHECK(sv(home[http::field::cache_control]) == "no-cache");
    CHECK(get(s.port(), "/queries/").body() == "<h1>queries</h1>");
    CHECK(get(s.port(), "/about").body() == "<h1>about</h1>");
    CHECK(get(s.port(), "/about.html").body() == "<h1>about</h1>");
    // A directory without the trailing slash redirects to it.
    auto dir = get(s.port(), "/queries?id=7");
    CHECK(dir.result_int() == 308);
    CHECK(sv(dir[http::field::location]) == "/queries/?id=7");
    // The API routes never fall through to files.
    CHECK(get(s.port(), "/health").body() == R"({"status":"ok"})");
  }
  SECTION("content types and caching") {
    auto type = [&](const std::string& target) {
      return sv(get(s.port(), target)[http::field::content_type]);
    };
    CHECK(type("/app.js") == "text/javascript; charset=utf-8");
    CHECK(type("/style.css") == "text/css; charset=utf-8");
    CHECK(type("/data.json") == "application/json");
    CHECK(type("/logo.svg") == "image/svg+xml");
    CHECK(type("/logo.png") == "image/png");
    CHECK(type("/favicon.ico") == "image/x-icon");
    CHECK(type("/font.woff2") == "font/woff2");
    CHECK(type("/app.js.map") == "application/json");
    CHECK(type("/robots.txt") == "text/plain; charset=utf-8");
    CHECK(type("/blob.bin") == "application/octet-stream");
    auto chunk = get(s.port(), "/_next/static/chunks/main-abc.js");
    CHECK(chunk.body() == "main()");
    CHECK(sv(chunk[http::field::cache_control])
          == "public, max-age=31536000, immutable");
    CHECK(sv(get(s.port(), "/app.js")[http::field::cache_control])
          == "no-cache");
  }
  SECTION("404.html for unknown paths") {
    auto res = get(s.port(), "/no/such/page");
    CHECK(res.result_int() == 404);
    CHECK(res.body() == "<h1>lost</h1>");
    CHECK(sv(res[http::field::content_type]) == "text/html; charset=utf-8");
    CHECK(get(s.port(), "/queries/nope/").result_int() == 404);
  }
  SECTION("HEAD") {
    http_client client{s.port()};
    auto res = client.request(http::verb::head, "/app.js");
    CHECK(res.result_int() == 200);
    CHECK(sv(res[http::field::content_length]) == "14");
    CHECK(res.body().empty());
    // The connection is still in sync after a body-less answer.
    CHECK(client.request(http::verb::get, "/app.js").body()
          == "console.log(1)");
  }
}

TEST_CASE("web: 404 JSON when the static dir has no 404.html", "[web]") {
  temp_dir tmp;
  tmp.write("index.html", "home");
  web::server_options opts;
  opts.static_dir = tmp.path.string();
  test_server s{opts};
  CHECK(get(s.port(), "/").body() == "home");
  auto res = get(s.port(), "/nope");
  CHECK(res.result_int() == 404);
  CHECK(
    res.body()
    == R"({"error":{"code":"not_found","message":"no route for GET /nope"}})");
  // Other methods than GET/HEAD do not serve files.
  http_client client{s.port()};
  CHECK(client
          .request(http::verb::post, "/index.html",
                   {{http::field::content_type, "application/json"}})
          .result_int()
        == 404);
}

TEST_CASE("web: path traversal is rejected", "[web]") {
  temp_dir tmp;
  tmp.write("out/index.html", "home");
  tmp.write("secret.txt", "SECRET");
  web::server_options opts;
  opts.static_dir = (tmp.path / "out").string();
  test_server s{opts};
  for (auto target :
       {"/../secret.txt", "/%2e%2e/secret.txt", "/x/%2E%2E%2F..%2fsecret.txt",
        "/..%5c..%2f..", "/%zz", "/a%00b"}) {
    INFO(target);
    auto res = get(s.port(), target);
    CHECK(res.result_int() == 400);
    CHECK(member(parse_json(res.body())["error"], "code") == "bad_request");
  }
  // An absolute path after the root slash must stay under the root.
  auto abs = get(s.port(), "/" + (tmp.path / "secret.txt").string());
  CHECK(abs.result_int() == 404);
  CHECK(abs.body().find("SECRET") == std::string::npos);
}

// -- CORS ---------------------------------------------------------------------

TEST_CASE("web: CORS for configured origins", "[web]") {
  web::server_options opts;
  opts.access.cors_origins = {"http://localhost:3000/"};
  test_server s{opts};
  const std::string good = "http://localhost:3000";
  SECTION("allowed origin") {
    auto res = get(s.port(), "/health", {{http::field::origin, good}});
    CHECK(sv(res[http::field::access_control_allow_origin]) == good);
    CHECK(sv(res[http::field::vary]) == "Origin");
  }
  SECTION("other origin") {
    auto res = get(s.port(), "/health",
                   {{http::field::origin, "http://evil.example"}});
    CHECK(res.result_int() == 200);
    CHECK(res.count(http::field::access_control_allow_origin) == 0);
  }
  SECTION("preflight") {
    http_client client{s.port()};
    auto ok
      = client.request(http::verb::options, "/api/advice",
                       {{http::field::origin, good},
                        {http::field::access_control_request_method, "POST"}});
    CHECK(ok.result_int() == 204);
    CHECK(sv(ok[http::field::access_control_allow_origin]) == good);
    CHECK(sv(ok[http::field::access_control_allow_methods])
          == "GET, POST, OPTIONS");
    CHECK(sv(ok[http::field::access_control_allow_headers])
          == "Authorization, Content-Type");
    CHECK(ok.count(http::field::access_control_max_age) == 1);
    CHECK(s.calls == 0);
    auto denied = client.request(http::verb::options, "/api/advice",
                                 {{http::field::origin, "http://evil"}});
    CHECK(denied.result_int() == 204);
    CHECK(denied.count(http::field::access_control_allow_origin) == 0);
    CHECK(denied.count(http::field::access_control_allow_methods) == 0);
  }
  SECTION("wildcard") {
    web::server_options any;
    any.access.cors_origins = {"*"};
    test_server star{any};
    auto res = get(star.port(), "/health", {{http::field::origin, good}});
    CHECK(sv(res[http::field::access_control_allow_origin]) == "*");
  }
  SECTION("no CORS configured") {
    test_server plain{{}};
    auto res = get(plain.port(), "/health", {{http::field::origin, good}});
    CHECK(res.count(http::field::access_control_allow_origin) == 0);
  }
}

// -- malformed input ----------------------------------------------------------

TEST_CASE("web: a body over the limit gets 413", "[web]") {
  web::server_options opts;
  opts.max_body_bytes = 1024;
  test_server s{opts};
  {
    http_client client{s.port()};
    auto at_limit
      = client.request(http::verb::post, "/api/echo",
                       {{http::field::content_type, "application/json"}},
                       std::string(1024, 'a'));
    CHECK(at_limit.result_int() == 200);
  }
  http_client client{s.port()};
  http::request<http::string_body> req{http::verb::post, "/api/echo", 11};
  req.body() = std::string(4096, 'a');
  REQUIRE_FALSE(client.send(req));
  auto res = client.receive();
  CHECK(res.result_int() == 413);
  CHECK(member(parse_json(res.body())["error"], "code") == "payload_too_large");
  CHECK(s.calls == 1);
  CHECK(client.closed_by_peer());
  // With Expect: 100-continue the answer comes before the body is sent.
  http_client expecting{s.port()};
  REQUIRE_FALSE(expecting.send_raw("POST /api/echo HTTP/1.1\r\n"
                                   "Host: 127.0.0.1\r\n"
                                   "Content-Length: 4096\r\n"
                                   "Expect: 100-continue\r\n\r\n"));
  CHECK(expecting.receive().result_int() == 413);
  CHECK(s.calls == 1);
}

TEST_CASE("web: malformed HTTP gets 400 and the connection closes", "[web]") {
  test_server s{{}};
  for (auto raw :
       {"GET /health HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n",
        "GET /health HTTP/9.x\r\n\r\n", "BLAH\x01 / HTTP/1.1\r\n\r\n"}) {
    INFO(raw);
    http_client client{s.port()};
    REQUIRE_FALSE(client.send_raw(raw));
    auto res = client.receive();
    CHECK(res.result_int() == 400);
    CHECK(member(parse_json(res.body())["error"], "code") == "bad_request");
    CHECK(client.closed_by_peer());
  }
  CHECK(s.calls == 0);
  // The server is unaffected.
  CHECK(get(s.port(), "/health").result_int() == 200);
}

// -- WebSocket ----------------------------------------------------------------

TEST_CASE("web: WebSocket hello and subscriptions and control frames",
          "[web]") {
  test_server s{{}};
  ws_client client{s.port()};
  CHECK(sv(client.handshake_response()[http::field::server]) == "optischema");
  SECTION("hello") {
    auto doc = parse_json(client.read());
    CHECK(member(doc, "type") == "hello");
    REQUIRE(doc["topics"].IsArray());
    std::vector<std::string> topics;
    for (auto& x : doc["topics"].GetArray())
      topics.emplace_back(x.GetString());
    CHECK(topics
          == std::vector<std::string>{"metrics", "status", "recommendation",
                                      "alert", "analysis"});
    CHECK(eventually([&] { return s.srv->stats().ws_clients == 1; }));
  }
  SECTION("subscribe filters broadcasts") {
    REQUIRE(client.read_type() == "hello");
    ws_client other{s.port()};
    REQUIRE(other.read_type() == "hello");
    client.write(
      R"({"type":"subscribe","targets":["a","a"],"topics":["metrics"]})");
    auto ack = parse_json(client.read());
    CHECK(member(ack, "type") == "subscribed");
    REQUIRE(ack["targets"].IsArray());
    CHECK(ack["targets"].Size() == 1);
    CHECK(ack["topics"].Size() == 1);
    s.srv->broadcast("b", "metrics", frame(R"({"n":1})"));
    s.srv->broadcast("a", "alert", frame(R"({"n":2})"));
    s.srv->broadcast("a", "metrics", frame(R"({"n":3})"));
    // Frames arrive in order, so the first one proves the other two were
    // filtered out.
    CHECK(client.read() == R"({"n":3})");
    // The default subscription is everything.
    CHECK(other.read() == R"({"n":1})");
    CHECK(other.read() == R"({"n":2})");
    CHECK(other.read() == R"({"n":3})");
    // An empty subscription means all again (and `other` gets n4 too).
    client.write(R"({"type":"subscribe"})");
    CHECK(client.read_type() == "subscribed");
    s.srv->broadcast("z", "status", frame(R"({"n":4})"));
    CHECK(client.read() == R"({"n":4})");
    CHECK(eventually([&] { return s.srv->stats().ws_frames_sent == 10; }));
  }
  SECTION("ping and bad frames") {
    REQUIRE(client.read_type() == "hello");
    client.write(R"({"type":"ping"})");
    CHECK(client.read() == R"({"type":"pong"})");
    for (auto bad :
         {std::string{"not json"}, std::string{"[1,2]"},
          std::string{R"({"type":"dance"})"}, std::string{R"({"type":7})"},
          std::string{R"({"type":"subscribe","targets":"a"})"},
          std::string{R"({"type":"subscribe","topics":[1]})"},
          std::string{R"({"type":"subscribe","topics":["x"]})"},
          // Valid, but over 64 KiB: must not be answered.
          R"({"type":"ping")" + std::string(70 * 1024, ' ') + "}"}) {
      INFO(bad.substr(0, 80));
      client.write(bad);
      auto doc = parse_json(client.read());
      CHECK(member(doc, "type") == "error");
      CHECK(member(doc, "message") != "<missing>");
      // The connection stays usable.
      client.write(R"({"type":"ping"})");
      CHECK(client.read_type() == "pong");
    }
    client.write("{}", true);
    CHECK(client.read_type() == "error");
    // A rejected subscribe left the subscription unchanged (everything).
    s.srv->broadcast("t", "alert", frame(R"({"n":5})"));
    CHECK(client.read() == R"({"n":5})");
  }
}

TEST_CASE("web: a stalled WebSocket client does not hold up the others",
          "[web]") {
  web::server_options opts;
  opts.ws_queue_limit = 8;
  test_server s{opts};
  ws_client slow{s.port()};
  REQUIRE(slow.read_type() == "hello");
  ws_client fast{s.port()};
  REQUIRE(fast.read_type() == "hello");
  const std::string pad(64 * 1024, 'x');
  constexpr int total = 1000;
  constexpr int batch = 4;
  auto start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration broadcasting{0};
  for (int i = 0; i < total; ++i) {
    auto text = R"({"seq":)" + std::to_string(i) + R"(,"pad":")" + pad + "\"}";
    auto t0 = std::chrono::steady_clock::now();
    s.srv->broadcast("db", "metrics", frame(std::move(text)));
    broadcasting += std::chrono::steady_clock::now() - t0;
    // Read in small batches: the fast client keeps up, the slow one never
    // reads and its queue overflows.
    if ((i + 1) % batch == 0) {
      for (int j = i + 1 - batch; j <= i; ++j) {
        auto got = fast.read();
        auto prefix = R"({"seq":)" + std::to_string(j) + ",";
        REQUIRE(got.starts_with(prefix));
      }
    }
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed < 30s);
  CHECK(broadcasting < 2s);
  CHECK(s.srv->stats().ws_frames_dropped > 0);
  // The fast client got hello + all frames, the slow one at least hello.
  CHECK(eventually([&] { return s.srv->stats().ws_frames_sent >= total + 2; }));
  CHECK(s.srv->stats().ws_clients == 2);
  // Shutdown does not wait for the stalled client either.
  auto t0 = std::chrono::steady_clock::now();
  s.srv->stop();
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
}

// -- lifecycle ----------------------------------------------------------------

TEST_CASE("web: stop() closes clients and is idempotent", "[web]") {
  test_server s{{}};
  auto port = s.port();
  ws_client client{port};
  REQUIRE(client.read_type() == "hello");
  http_client idle{port};
  CHECK(idle.request(http::verb::get, "/health").result_int() == 200);
  beast::error_code read_error;
  std::thread reader{[&] { client.read(read_error); }};
  auto t0 = std::chrono::steady_clock::now();
  s.srv->stop();
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  reader.join();
  CHECK(read_error == websocket::error::closed);
  CHECK(client.stream().reason().code == websocket::close_code::going_away);
  CHECK(idle.closed_by_peer());
  CHECK(s.srv->stats().ws_clients == 0);
  s.srv->stop();
  s.srv->stop();
  // Nobody listens any more.
  net::io_context ioc;
  tcp::socket socket{ioc};
  beast::error_code ec;
  socket.connect({net::ip::make_address("127.0.0.1"), port}, ec);
  CHECK(ec);
}

TEST_CASE("web: a responder may outlive its connection and the server",
          "[web]") {
  std::mutex mtx;
  std::shared_ptr<web::responder> held;
  auto s = std::make_unique<test_server>(web::server_options{}, false);
  s->srv->set_handler(
    [&](web::http_request, std::shared_ptr<web::responder> out) {
      std::lock_guard<std::mutex> guard{mtx};
      held = std::move(out);
    });
  http_client client{s->port()};
  http::request<http::string_body> req{http::verb::get, "/api/slow", 11};
  REQUIRE_FALSE(client.send(req));
  REQUIRE(eventually([&] {
    std::lock_guard<std::mutex> guard{mtx};
    return held != nullptr;
  }));
  // Stopping ends the pending request: the client sees a close, not a hang.
  s->srv->stop();
  CHECK(client.closed_by_peer());
  s.reset();
  // Answering or dropping it now must be harmless (ASan/TSan builds check).
  std::lock_guard<std::mutex> guard{mtx};
  held->respond({200, "text/plain", "too late", {}});
  held.reset();
}

TEST_CASE("web: listen errors name the address", "[web]") {
  test_server s{{}};
  SECTION("address in use") {
    web::server_options opts;
    auto address = "127.0.0.1:" + std::to_string(s.port());
    opts.listen = address;
    auto res = web::server::start(opts);
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error().code == ec::invalid_configuration);
    CHECK(res.error().message
          == "cannot listen on " + address
            + ": address already in use; pass another --listen");
  }
  SECTION("malformed addresses") {
    for (auto bad : {"nonsense", "127.0.0.1", "127.0.0.1:99999",
                     "127.0.0.1:http", "::1:8080", "example.com:80",
                     "[127.0.0.1]:80", "[::1]8080", ":8080"}) {
      INFO(bad);
      web::server_options opts;
      opts.listen = bad;
      auto res = web::server::start(opts);
      REQUIRE_FALSE(res.has_value());
      CHECK(res.error().code == ec::invalid_configuration);
      CHECK(res.error().message.find(bad) != std::string::npos);
    }
  }
  SECTION("missing static directory") {
    web::server_options opts;
    opts.listen = "127.0.0.1:0";
    opts.static_dir = "/nonexistent/optischema/out";
    auto res = web::server::start(opts);
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error().code == ec::invalid_configuration);
    CHECK(res.error().message.find(opts.static_dir) != std::string::npos);
  }
}

TEST_CASE("web: url() shows the host and the actual port", "[web]") {
  web::server_options opts;
  opts.listen = "localhost:0";
  auto local = web::server::start(opts);
  REQUIRE(local.has_value());
  auto port = (*local)->port();
  CHECK(port != 0);
  CHECK((*local)->url() == "http://localhost:" + std::to_string(port));
  CHECK(get(port, "/health").result_int() == 503);
  opts.listen = "[::1]:0";
  auto v6 = web::server::start(opts);
  if (v6.has_value()) {
    CHECK((*v6)->url() == "http://[::1]:" + std::to_string((*v6)->port()));
  } else {
    // No IPv6 loopback in this container: the error names the address.
    CHECK(v6.error().message.find("[::1]:0") != std::string::npos);
  }
}

// -- who may call, what every answer carries, what a client may cost
// -------------

TEST_CASE("web: no token, no listening beyond loopback unless told", "[web]") {
  web::server_options opts;
  opts.listen = "0.0.0.0:0";
  auto refused = web::server::start(opts);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code == ec::invalid_configuration);
  CHECK_THAT(refused.error().message, Catch::Contains("--insecure-listen"));
  CHECK_THAT(refused.error().message, Catch::Contains("--api-token-file"));
  opts.access.insecure_listen = true;
  auto told = web::server::start(opts);
  REQUIRE(told.has_value());
  REQUIRE((*told)->warnings().size() == 1);
  CHECK_THAT((*told)->warnings()[0], Catch::Contains("without an API token"));
  (*told)->stop();
  opts.access.insecure_listen = false;
  opts.access.api_token = "a-token-of-sufficient-length";
  auto with_token = web::server::start(opts);
  REQUIRE(with_token.has_value());
  CHECK((*with_token)->warnings().empty());
  (*with_token)->stop();
  // Loopback needs neither.
  web::server_options local;
  local.listen = "127.0.0.1:0";
  auto res = web::server::start(local);
  REQUIRE(res.has_value());
  CHECK((*res)->warnings().empty());
  (*res)->stop();
}

TEST_CASE("web: every answer carries the security headers", "[web]") {
  test_server s{{}};
  auto check = [](const response& res) {
    CHECK(sv(res["X-Content-Type-Options"]) == "nosniff");
    CHECK(sv(res["X-Frame-Options"]) == "DENY");
    CHECK(sv(res["Referrer-Policy"]) == "no-referrer");
    CHECK_THAT(sv(res["Content-Security-Policy"]),
               Catch::Contains("frame-ancestors 'none'"));
  };
  check(get(s.port(), "/health"));
  check(get(s.port(), "/nope"));
  http_client client{s.port()};
  check(client.request(http::verb::options, "/api/x"));
  http_client bad{s.port()};
  REQUIRE_FALSE(bad.send_raw("GET /health HTTP/9.x\r\n\r\n"));
  check(bad.receive());
}

TEST_CASE("web: the gate runs before the handler and the body", "[web]") {
  web::server_options opts;
  opts.access.api_token = "a-token-of-sufficient-length";
  test_server s{opts};
  http_client client{s.port()};
  auto none = client.request(http::verb::post, "/api/echo",
                             {{http::field::content_type, "application/json"}},
                             "{}");
  CHECK(none.result_int() == 401);
  CHECK(sv(none[http::field::www_authenticate]) == "Bearer");
  CHECK(s.calls == 0);
  http_client ok{s.port()};
  auto res = ok.request(
    http::verb::post, "/api/echo",
    {{http::field::content_type, "application/json"},
     {http::field::authorization, "Bearer a-token-of-sufficient-length"}},
    "{}");
  CHECK(res.result_int() == 200);
  // Not UTF-8: refused before the handler.
  auto bytes = ok.request(
    http::verb::post, "/api/echo",
    {{http::field::content_type, "application/json"},
     {http::field::authorization, "Bearer a-token-of-sufficient-length"}},
    "{\"x\":\"\xff\"}");
  CHECK(bytes.result_int() == 400);
  CHECK(s.calls == 1);
}

TEST_CASE("web: with a token the WebSocket waits for it", "[web]") {
  web::server_options opts;
  opts.access.api_token = "a-token-of-sufficient-length";
  test_server s{opts};
  {
    ws_client client{s.port()};
    client.write(R"({"type":"subscribe"})");
    auto refusal = parse_json(client.read());
    CHECK(member(refusal, "type") == "error");
    CHECK(member(refusal, "code") == "unauthorized");
    beast::error_code ec;
    client.read(ec);
    CHECK(ec == websocket::error::closed);
    CHECK(client.stream().reason().code == websocket::close_code::policy_error);
  }
  ws_client client{s.port()};
  s.srv->broadcast("t", "metrics", frame(R"({"type":"metrics"})"));
  client.write(R"({"type":"auth","token":"a-token-of-sufficient-length"})");
  CHECK(client.read_type() == "hello");
  client.write(R"({"type":"ping"})");
  CHECK(client.read_type() == "pong");
}

TEST_CASE("web: connections beyond the limit evict the idlest or get 503",
          "[web]") {
  web::server_options opts;
  opts.max_connections = 4;
  test_server s{opts};
  std::vector<std::unique_ptr<http_client>> idle;
  for (int i = 0; i < 12; ++i) {
    idle.push_back(std::make_unique<http_client>(s.port()));
    REQUIRE_FALSE(idle.back()->send_raw("GET /health HTTP/1.1\r\nHo"));
  }
  // Real requests still get through: each takes an idle one's place.
  for (int i = 0; i < 5; ++i)
    CHECK(get(s.port(), "/health").result_int() == 200);
  CHECK(eventually([&] { return s.srv->stats().connections <= 4; }));
  CHECK(s.srv->stats().connections_evicted >= 8);
}

TEST_CASE("web: WebSocket clients beyond the limit get 503", "[web]") {
  web::server_options opts;
  opts.max_ws_clients = 2;
  test_server s{opts};
  ws_client a{s.port()};
  ws_client b{s.port()};
  CHECK(a.read_type() == "hello");
  CHECK(b.read_type() == "hello");
  http_client c{s.port()};
  auto refused
    = c.request(http::verb::get, "/ws",
                {{http::field::upgrade, "websocket"},
                 {http::field::connection, "Upgrade"},
                 {http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ=="},
                 {http::field::sec_websocket_version, "13"}});
  CHECK(refused.result_int() == 503);
  CHECK_THAT(refused.body(), Catch::Contains("--max-ws-clients"));
  CHECK(s.srv->stats().ws_refused == 1);
}
