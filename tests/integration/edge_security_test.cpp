// The EDGE's defences (issue 10), tried as an attacker would against the
// real binary: who may call the API (token, Origin, Host, JSON only), what
// every answer carries (security headers), and what a request may cost
// (connections, WebSocket clients, analyses, sandbox copies, paging).
// Each case was first run against the engine without these defences and
// failed there.

#include "engine_process.hpp"
#include "harness.hpp"
#include "http_client.hpp"
#include "test_util.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <future>
#include <set>
#include <sstream>

using namespace optischema::test;
using namespace std::chrono_literals;

namespace {

const std::string token = "edge-test-token-0123456789abcdef";

/// A target nobody listens on: the API surface is the same whatever the
/// target's state, and no database is loaded by what the tests send.
std::string down_dsn() {
  return "host=127.0.0.1 port=" + std::to_string(closed_port())
    + " user=postgres dbname=edge connect_timeout=1";
}

std::vector<std::string> serve(const std::string& dsn, const temp_dir& data,
                               std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"serve",
                                "--dsn",
                                dsn,
                                "--listen",
                                "127.0.0.1:0",
                                "--data-dir",
                                data.str(),
                                "--poll-interval",
                                "1s",
                                "--analysis-interval",
                                "0"};
  // A flag given in `extra` replaces the default (CLI11 refuses repeats).
  for (size_t i = 0; i + 1 < extra.size(); ++i) {
    auto at = std::find(args.begin(), args.end(), extra[i]);
    if (extra[i].rfind("--", 0) == 0 && at != args.end() && at + 1 != args.end()
        && (extra[i] == "--listen" || extra[i] == "--poll-interval")) {
      *(at + 1) = extra[i + 1];
      extra.erase(extra.begin() + static_cast<long>(i),
                  extra.begin() + static_cast<long>(i) + 2);
      --i;
    }
  }
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

/// A token file readable by its owner only.
std::string token_file(const temp_dir& dir, const std::string& text) {
  auto path = (dir.path / "api-token").string();
  std::ofstream{path} << text << "\n";
  ::chmod(path.c_str(), 0600);
  return path;
}

std::map<std::string, std::string> bearer(const std::string& t = token) {
  return {{"Authorization", "Bearer " + t}};
}

std::string host_port(const std::string& url) {
  return url.substr(url.find("://") + 3);
}

/// A parsed raw answer: the tests below need requests the typed client
/// cannot send (no Content-Type, a foreign Host, an Origin).
struct raw_answer {
  unsigned status = 0;
  std::map<std::string, std::string> headers; ///< lower-case names
  std::string body;
  std::string text;
};

raw_answer parse_raw(const std::string& text) {
  raw_answer r;
  r.text = text;
  if (text.rfind("HTTP/1.", 0) != 0 || text.size() < 12)
    return r;
  r.status = static_cast<unsigned>(std::stoi(text.substr(9, 3)));
  auto end = text.find("\r\n\r\n");
  std::istringstream lines{text.substr(0, end)};
  std::string line;
  std::getline(lines, line);
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    auto colon = line.find(':');
    if (colon == std::string::npos)
      continue;
    auto name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    auto value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    r.headers[name] = value;
  }
  if (end != std::string::npos)
    r.body = text.substr(end + 4);
  return r;
}

/// Sends one request with exactly these headers (plus Connection: close
/// and, for a body, Content-Length) and reads the answer.
raw_answer raw(const std::string& url, const std::string& method,
               const std::string& path,
               const std::vector<std::pair<std::string, std::string>>& headers,
               const std::string& body = {}) {
  std::string text = method + " " + path + " HTTP/1.1\r\n";
  for (auto& [k, v] : headers)
    text += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST")
    text += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  text += "Connection: close\r\n\r\n" + body;
  return parse_raw(raw_request(url, text, 10s));
}

/// A WebSocket upgrade of /ws, from a browser page at `origin` if any.
std::string upgrade_request(const std::string& host,
                            const std::string& origin = {}) {
  std::string text = "GET /ws HTTP/1.1\r\nHost: " + host
    + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n";
  if (!origin.empty())
    text += "Origin: " + origin + "\r\n";
  return text + "\r\n";
}

/// The headers every answer must carry.
void check_security_headers(const std::map<std::string, std::string>& h) {
  INFO("headers of the answer");
  CHECK(h.count("content-security-policy") == 1);
  if (h.count("content-security-policy") == 1)
    CHECK_THAT(h.at("content-security-policy"),
               Catch::Contains("frame-ancestors 'none'"));
  CHECK((h.count("x-content-type-options") == 1
         && h.at("x-content-type-options") == "nosniff"));
  CHECK((h.count("x-frame-options") == 1 && h.at("x-frame-options") == "DENY"));
  CHECK((h.count("referrer-policy") == 1
         && h.at("referrer-policy") == "no-referrer"));
}

std::string error_code(const std::string& body) {
  auto d = parse_json(body);
  if (!d.IsObject() || !d.HasMember("error"))
    return "<no error>";
  return d["error"]["code"].GetString();
}

/// A TCP connection that sends nothing (or dribbles): a slowloris client.
struct idle_socket {
  int fd = -1;
  explicit idle_socket(int port) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ~idle_socket() {
    if (fd >= 0)
      ::close(fd);
  }
  void send(const std::string& x) {
    if (fd >= 0)
      (void)!::send(fd, x.data(), x.size(), MSG_NOSIGNAL);
  }
  /// True once the server closed it (EOF or reset) within `timeout`.
  bool closed_within(std::chrono::milliseconds timeout) {
    if (fd < 0)
      return true;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) {
        auto n = ::recv(fd, buf, sizeof(buf), 0);
        if (n <= 0)
          return true;
      }
    }
    return false;
  }
};

int port_of(const std::string& url) {
  return std::stoi(url.substr(url.rfind(':') + 1));
}

} // namespace

// -- who may call
// ---------------------------------------------------------------

TEST_CASE("every POST takes application/json only: 415 otherwise",
          "[edge][security]") {
  temp_dir data;
  engine_process e{serve(down_dsn(), data)};
  auto url = e.wait_ready();
  auto host = host_port(url);
  for (auto path : {"/api/analysis/query", "/api/analysis/run", "/api/collect",
                    "/api/sandbox/prepare", "/api/suggestions/dismiss"}) {
    INFO(path);
    // A cross-site form or a no-cors fetch sends text/plain or nothing.
    for (auto type : {"text/plain", "application/x-www-form-urlencoded",
                      "multipart/form-data; boundary=x", "",
                      "application/jsonp", "text/json"}) {
      INFO("Content-Type: " << type);
      std::vector<std::pair<std::string, std::string>> headers{{"Host", host}};
      if (*type != '\0')
        headers.emplace_back("Content-Type", type);
      auto r = raw(url, "POST", path, headers, "{}");
      CHECK(r.status == 415);
      CHECK(error_code(r.body) == "unsupported_media_type");
      CHECK_THAT(r.body, Catch::Contains("application/json"));
    }
  }
  // JSON with parameters is JSON; an empty JSON body is fine where the
  // endpoint takes none.
  auto ok = raw(url, "POST", "/api/analysis/run",
                {{"Host", host},
                 {"Content-Type", "Application/JSON; charset=utf-8"}});
  CHECK(ok.status != 415);
  CHECK(http_get(url, "/health").status == 200);
}

TEST_CASE("with a token set every POST needs it", "[edge][security]") {
  temp_dir data;
  engine_process e{serve(down_dsn(), data, {"--api-token", token})};
  auto url = e.wait_ready();
  for (auto path : {"/api/analysis/query", "/api/analysis/run", "/api/collect",
                    "/api/sandbox/prepare", "/api/suggestions/test",
                    "/api/suggestions/dismiss", "/api/suggestions/apply",
                    "/api/suggestions/rollback"}) {
    INFO(path);
    auto none = http_request(url, "POST", path, R"({"sql":"SELECT 1"})");
    CHECK(none.status == 401);
    CHECK(error_code(none.body) == "unauthorized");
    CHECK(none.headers["www-authenticate"] == "Bearer");
    CHECK_THAT(none.body, Catch::Contains("Authorization: Bearer"));
    auto wrong = http_request(url, "POST", path, "{}", bearer("x" + token));
    CHECK(wrong.status == 401);
    auto prefix = http_request(url, "POST", path, "{}",
                               bearer(token.substr(0, token.size() - 1)));
    CHECK(prefix.status == 401);
  }
  // The right token passes the door; the target being down is the answer.
  auto collect = http_request(url, "POST", "/api/collect", "", bearer());
  CHECK(collect.status != 401);
  CHECK(collect.status != 403);
  // Reads stay open.
  CHECK(http_get(url, "/api/targets").status == 200);
}

TEST_CASE("the token comes from a file and stays out of ps",
          "[edge][security]") {
  temp_dir data;
  auto file = token_file(data, token);
  engine_process e{serve(down_dsn(), data, {"--api-token-file", file})};
  auto url = e.wait_ready();
  std::ifstream cmdline{"/proc/" + std::to_string(e.pid()) + "/cmdline"};
  std::string args{std::istreambuf_iterator<char>{cmdline}, {}};
  CHECK(args.find(token) == std::string::npos);
  CHECK(http_request(url, "POST", "/api/collect", "").status == 401);
  CHECK(http_request(url, "POST", "/api/collect", "", bearer()).status != 401);
  CHECK(e.log().find(token) == std::string::npos);
  // A file that cannot be read stops the start with the reason.
  engine_process missing{
    serve(down_dsn(), data, {"--api-token-file", file + ".missing"})};
  auto code = missing.wait_exit(15s);
  REQUIRE(code.has_value());
  CHECK(*code == 2);
  CHECK_THAT(missing.log(), Catch::Contains(file + ".missing"));
}

TEST_CASE("a short token is refused with how to make one", "[edge][security]") {
  temp_dir data;
  engine_process e{serve(down_dsn(), data, {"--api-token", "short-token"})};
  auto code = e.wait_exit(15s);
  REQUIRE(code.has_value());
  CHECK(*code == 2);
  CHECK_THAT(e.log(), Catch::Contains("at least 16"));
  CHECK_THAT(e.log(), Catch::Contains("head -c 24 /dev/urandom | base64"));
  // The token itself never reaches the log.
  CHECK(e.log().find("short-token") == std::string::npos);
}

TEST_CASE("without a token the engine listens on loopback only, unless told",
          "[edge][security]") {
  temp_dir data;
  SECTION("0.0.0.0 without a token is refused") {
    engine_process e{serve(down_dsn(), data, {"--listen", "0.0.0.0:0"})};
    auto code = e.wait_exit(15s);
    REQUIRE(code.has_value());
    CHECK(*code == 2);
    CHECK_THAT(e.log(), Catch::Contains("--api-token-file"));
    CHECK_THAT(e.log(), Catch::Contains("--insecure-listen"));
  }
  SECTION("--insecure-listen starts, warns loudly, and says so in the status") {
    engine_process e{
      serve(down_dsn(), data, {"--listen", "0.0.0.0:0", "--insecure-listen"})};
    e.wait_ready();
    auto url = "http://127.0.0.1:" + std::to_string(port_of(e.url()));
    CHECK_THAT(e.log(), Catch::Contains("warning web: listening on"));
    CHECK_THAT(e.log(), Catch::Contains("without an API token"));
    auto st = parse_json(http_get(url, "/api/status").body);
    REQUIRE(st["web"].IsObject());
    CHECK(std::string{st["web"]["state"].GetString()} == "degraded");
    REQUIRE(st["web"].HasMember("warnings"));
    CHECK_THAT(std::string{st["web"]["warnings"][0].GetString()},
               Catch::Contains("--insecure-listen"));
  }
  SECTION("0.0.0.0 with a token starts") {
    auto file = token_file(data, token);
    engine_process e{serve(down_dsn(), data,
                           {"--listen", "0.0.0.0:0", "--api-token-file", file,
                            "--allowed-host", "opti.example"})};
    e.wait_ready();
    auto url = "http://127.0.0.1:" + std::to_string(port_of(e.url()));
    CHECK(http_get(url, "/health").status == 200);
  }
}

TEST_CASE("Origin is checked on POSTs and /ws: 403 naming --cors-origin",
          "[edge][security]") {
  temp_dir data;
  engine_process e{
    serve(down_dsn(), data, {"--cors-origin", "http://dev.example:3000"})};
  auto url = e.wait_ready();
  auto host = host_port(url);
  auto post = [&](const std::string& origin) {
    return raw(url, "POST", "/api/analysis/run",
               {{"Host", host},
                {"Content-Type", "application/json"},
                {"Origin", origin}},
               "{}");
  };
  auto evil = post("http://evil.example");
  CHECK(evil.status == 403);
  CHECK(error_code(evil.body) == "forbidden_origin");
  CHECK_THAT(evil.body, Catch::Contains("--cors-origin"));
  CHECK(post("null").status == 403);
  // A page served by the engine itself, and a configured dev server.
  CHECK(post("http://" + host).status != 403);
  CHECK(post("http://dev.example:3000").status != 403);
  // A port is part of the origin.
  CHECK(post("http://dev.example:3001").status == 403);
  auto upgrade = [&](const std::string& origin) {
    return parse_raw(raw_request(url, upgrade_request(host, origin), 2s));
  };

  // Cross-site WebSocket hijacking: a page elsewhere reading the stream.
  auto hijack = upgrade("http://evil.example");
  CHECK(hijack.status == 403);
  CHECK_THAT(hijack.body, Catch::Contains("--cors-origin"));
  CHECK(upgrade("http://" + host).status == 101);
  CHECK(upgrade("").status == 101); // not a browser
  CHECK(http_get(url, "/health").status == 200);
}

TEST_CASE("the Host header is checked: DNS rebinding gets 421",
          "[edge][security]") {
  temp_dir data;
  engine_process e{
    serve(down_dsn(), data, {"--allowed-host", "opti.example.com"})};
  auto url = e.wait_ready();
  auto port = std::to_string(port_of(url));
  auto get = [&](const std::string& host) {
    return raw(url, "GET", "/api/status", {{"Host", host}});
  };
  // attacker.example resolved to 127.0.0.1 after the page loaded.
  auto rebound = get("attacker.example:" + port);
  CHECK(rebound.status == 421);
  CHECK(error_code(rebound.body) == "misdirected_request");
  CHECK_THAT(rebound.body, Catch::Contains("--allowed-host"));
  CHECK(raw(url, "GET", "/", {{"Host", "attacker.example"}}).status == 421);
  CHECK(get("127.0.0.1:" + port).status == 200);
  CHECK(get("localhost:" + port).status == 200);
  CHECK(get("LOCALHOST").status == 200);
  CHECK(get("opti.example.com").status == 200);
  CHECK(get("opti.example.com.:" + port).status == 200);
  CHECK(get("sub.opti.example.com").status == 421);
  CHECK(http_get(url, "/health").status == 200);
}

// -- what every answer carries
// ---------------------------------------------------

TEST_CASE("security headers on API answers, errors and static pages, with a "
          "CSP that allows exactly the page's inline scripts",
          "[edge][security]") {
  temp_dir data;
  temp_dir site;
  // An inline script like Next.js writes (self.__next_f.push), whose hash
  // is sha256-… of its text: echo -n '<text>' | openssl dgst -sha256 -binary |
  // base64
  const std::string script = "self.__next_f=self.__next_f||[];";
  std::ofstream{site.path / "index.html"}
    << "<!DOCTYPE html><html><head><script src=\"/_next/a.js\" async></script>"
       "<script>"
    << script << "</script></head><body>hi</body></html>";
  std::ofstream{site.path / "a.js"} << "1";
  engine_process e{serve(down_dsn(), data, {"--static-dir", site.str()})};
  auto url = e.wait_ready();
  auto host = host_port(url);
  for (auto path : {"/health", "/api/status", "/api/nope",
                    "/api/metrics/hot?limit=x", "/", "/a.js", "/missing"}) {
    INFO(path);
    auto r = raw(url, "GET", path, {{"Host", host}});
    CHECK(r.status != 0);
    check_security_headers(r.headers);
  }
  // Errors the server answers itself, before any handler.
  auto bad = parse_raw(raw_request(url, "GARBAGE\x01 / HTTP/1.1\r\n\r\n"));
  CHECK(bad.status == 400);
  check_security_headers(bad.headers);
  auto page = raw(url, "GET", "/", {{"Host", host}});
  REQUIRE(page.headers.count("content-security-policy") == 1);
  auto csp = page.headers["content-security-policy"];
  auto expected = shell_output("printf %s '" + script
                               + "' | openssl dgst -sha256 -binary | base64");
  CHECK_THAT(csp,
             Catch::Contains("script-src 'self' 'sha256-" + expected + "'"));
  auto script_src = csp.substr(csp.find("script-src"));
  script_src = script_src.substr(0, script_src.find(';'));
  CHECK(script_src.find("unsafe") == std::string::npos);
  CHECK_THAT(csp, Catch::Contains("object-src 'none'"));
  auto api = raw(url, "GET", "/api/status", {{"Host", host}});
  CHECK_THAT(api.headers["cache-control"], Catch::Contains("no-store"));
}

// -- the WebSocket
// ----------------------------------------------------------------

TEST_CASE("with a token set, the WebSocket streams only after an auth frame",
          "[edge][security]") {
  // A live target: its metrics stream every poll.
  auto& h = harness::shared();
  auto db = h.create_database("edge_ws");
  temp_dir data;
  engine_process e{
    serve(h.dsn(db), data, {"--api-token", token, "--poll-interval", "200ms"})};
  auto url = e.wait_ready();
  SECTION("no auth frame: nothing is sent, then the server closes") {
    ws_client ws{url};
    auto start = std::chrono::steady_clock::now();
    bool closed = false;
    std::string got;
    try {
      while (std::chrono::steady_clock::now() - start < 15s) {
        auto f = ws.read(500ms);
        if (f)
          got += *f;
      }
    } catch (const std::runtime_error&) {
      closed = true;
    }
    CHECK(got.find("\"hello\"") == std::string::npos);
    CHECK(got.find(R"("type":"metrics")") == std::string::npos);
    CHECK(closed);
  }
  SECTION("a subscribe before auth is refused with what to send") {
    ws_client ws{url};
    ws.send(R"({"type":"subscribe","targets":[],"topics":[]})");
    auto f = ws.read(5s);
    REQUIRE(f);
    CHECK_THAT(*f, Catch::Contains("auth"));
    CHECK_THAT(*f, Catch::Contains("\"error\""));
    CHECK_THROWS(ws.read(5s));
  }
  SECTION("a wrong token closes the socket") {
    ws_client ws{url};
    ws.send(R"({"type":"auth","token":"wrong-token-0123456789"})");
    auto f = ws.read(5s);
    REQUIRE(f);
    CHECK_THAT(*f, Catch::Contains("\"error\""));
    CHECK_THROWS(ws.read(5s));
  }
  SECTION("the right token: hello, subscription, events") {
    ws_client ws{url};
    ws.send(R"({"type":"auth","token":")" + token + R"("})");
    auto hello = ws.read(5s);
    REQUIRE(hello);
    CHECK_THAT(*hello, Catch::Contains("\"hello\""));
    REQUIRE(subscribe(ws, R"({"type":"subscribe","topics":["metrics"]})"));
    auto ev = ws.read(10s);
    REQUIRE(ev);
    CHECK_THAT(*ev, Catch::Contains(R"("type":"metrics")"));
  }
}

// -- what requests may cost
// -------------------------------------------------------

TEST_CASE(
  "open connections are bounded and idle ones make room for real clients",
  "[edge][limits]") {
  temp_dir data;
  engine_process e{serve(down_dsn(), data, {"--max-connections", "16"})};
  auto url = e.wait_ready();
  auto port = port_of(url);
  std::vector<std::unique_ptr<idle_socket>> idle;
  for (int i = 0; i < 200; ++i) {
    idle.push_back(std::make_unique<idle_socket>(port));
    idle.back()->send("GET /health HTTP/1.1\r\nHo"); // never finished
  }
  // Real clients still get answers while 200 sockets dribble.
  for (int i = 0; i < 20; ++i)
    CHECK(http_get(url, "/health", 5s).status == 200);
  // The server holds at most its limit of them.
  size_t open = 0;
  for (auto& s : idle)
    if (!s->closed_within(100ms))
      ++open;
  CHECK(open <= 16);
  auto st = parse_json(http_get(url, "/api/status").body);
  CHECK(st["web"]["connections"].GetUint64() <= 17);
  CHECK(st["web"]["connections_refused"].GetUint64()
          + st["web"]["connections_evicted"].GetUint64()
        >= 180);
}

TEST_CASE("a client dribbling its headers is cut off", "[edge][limits]") {
  temp_dir data;
  engine_process e{serve(down_dsn(), data)};
  auto url = e.wait_ready();
  idle_socket slow{port_of(url)};
  auto start = std::chrono::steady_clock::now();
  bool closed = false;
  // One byte a second, forever (slowloris).
  while (!closed && std::chrono::steady_clock::now() - start < 40s) {
    slow.send("X");
    closed = slow.closed_within(1s);
  }
  CHECK(closed);
  CHECK(std::chrono::steady_clock::now() - start < 20s);
  CHECK(http_get(url, "/health").status == 200);
}

TEST_CASE("WebSocket clients are bounded by --max-ws-clients",
          "[edge][limits]") {
  temp_dir data;
  engine_process e{serve(down_dsn(), data, {"--max-ws-clients", "3"})};
  auto url = e.wait_ready();
  std::vector<std::unique_ptr<ws_client>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<ws_client>(url));
    REQUIRE(clients.back()->read(5s)); // hello
  }
  auto text = upgrade_request(host_port(url));
  auto fourth = parse_raw(raw_request(url, text, 2s));
  CHECK(fourth.status == 503);
  CHECK_THAT(fourth.body, Catch::Contains("--max-ws-clients"));
  clients.pop_back();
  CHECK(eventually(
    [&] { return parse_raw(raw_request(url, text, 2s)).status == 101; }, 5s));
}

TEST_CASE("request bodies must be UTF-8", "[edge][security]") {
  temp_dir data;
  engine_process e{serve(down_dsn(), data)};
  auto url = e.wait_ready();
  auto r = http_request(url, "POST", "/api/analysis/query",
                        "{\"sql\":\"SELECT '\xff\xfe\xc0\xaf' \"}");
  CHECK(r.status == 400);
  CHECK_THAT(r.body, Catch::Contains("UTF-8"));
}

TEST_CASE("a chunk header that never ends is bounded", "[edge][limits]") {
  temp_dir data;
  engine_process e{serve(down_dsn(), data)};
  auto url = e.wait_ready();
  idle_socket s{port_of(url)};
  s.send("POST /api/collect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
         "application/json\r\nTransfer-Encoding: chunked\r\n\r\n1;");
  std::string ext(64 * 1024, 'a');
  bool closed = false;
  for (int i = 0; i < 256 && !closed; ++i) { // 16 MiB of one chunk header
    s.send(ext);
    if (i % 16 == 0)
      closed = s.closed_within(10ms);
  }
  closed = closed || s.closed_within(5s);
  CHECK(closed);
  CHECK(http_get(url, "/health").status == 200);
}

// -- analyses and sandbox copies
// --------------------------------------------------

namespace {

std::string shop(harness& h) {
  auto db = h.create_database("edge");
  h.exec(db, R"sql(
    CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int NOT NULL,
                         total numeric(10,2) NOT NULL);
    INSERT INTO orders SELECT g, g % 5000, g % 100 FROM generate_series(1, 100000) g;
    ANALYZE orders;)sql");
  for (int i = 0; i < 30; ++i)
    h.exec(db,
           "SELECT id, total FROM orders WHERE customer_id = "
             + std::to_string(i * 37));
  return db;
}

uint64_t advisor_runs(const std::string& url) {
  auto d = parse_json(http_get(url, "/api/analysis/status").body);
  for (auto& m : d["advisors"].GetObject())
    return m.value["runs"].GetUint64();
  return 0;
}

} // namespace

TEST_CASE("analysis requests are coalesced per target and ad-hoc ones bounded",
          "[edge][limits]") {
  auto& h = harness::shared();
  auto db = shop(h);
  temp_dir data;
  engine_process e{serve(h.dsn(db), data)};
  auto url = e.wait_ready();
  REQUIRE(http_request(url, "POST", "/api/collect", "{}").status == 200);
  REQUIRE(http_request(url, "POST", "/api/analysis/run", "", {}, 120s).status
          == 200);
  auto before = advisor_runs(url);
  // Six people press "analyse now" at once: one analysis, six answers.
  std::vector<std::future<http_result>> runs;
  for (int i = 0; i < 6; ++i)
    runs.push_back(std::async(std::launch::async, [&] {
      return http_request(url, "POST", "/api/analysis/run", "", {}, 120s);
    }));
  std::set<std::string> answers;
  for (auto& f : runs) {
    auto r = f.get();
    CHECK(r.status == 200);
    answers.insert(r.body);
  }
  CHECK(answers.size() == 1);
  CHECK(advisor_runs(url) == before + 1);
  // Ad-hoc analyses: a few in flight per target, the rest told to wait.
  std::vector<std::future<http_result>> queries;
  for (int i = 0; i < 12; ++i)
    queries.push_back(std::async(std::launch::async, [&, i] {
      return http_request(url, "POST", "/api/analysis/query",
                          R"({"sql":"SELECT * FROM orders WHERE total > )"
                            + std::to_string(i)
                            + R"( ORDER BY customer_id LIMIT 5"})",
                          {}, 120s);
    }));
  int ok = 0;
  int limited = 0;
  for (auto& f : queries) {
    auto r = f.get();
    if (r.status == 200)
      ++ok;
    else if (r.status == 429) {
      ++limited;
      CHECK(r.headers.count("retry-after") == 1);
      CHECK_THAT(r.body, Catch::Contains("--max-analysis-queries"));
    } else {
      FAIL("unexpected " << r.status << ": " << r.body);
    }
  }
  CHECK(ok >= 1);
  CHECK(limited >= 1);
}

TEST_CASE("lists are paged with bounds and a total", "[edge][limits]") {
  auto& h = harness::shared();
  auto db = shop(h);
  temp_dir data;
  engine_process e{serve(h.dsn(db), data)};
  auto url = e.wait_ready();
  REQUIRE(http_request(url, "POST", "/api/collect", "{}").status == 200);
  REQUIRE(http_request(url, "POST", "/api/analysis/run", "", {}, 120s).status
          == 200);
  auto all = parse_json(http_get(url, "/api/suggestions/latest").body);
  REQUIRE(all.HasMember("total"));
  auto total = all["total"].GetUint64();
  REQUIRE(total >= 1);
  CHECK(all["suggestions"].Size() == std::min<uint64_t>(total, 100));
  auto one = parse_json(
    http_get(url, "/api/suggestions/latest?limit=1&offset=0").body);
  CHECK(one["suggestions"].Size() == 1);
  CHECK(one["total"].GetUint64() == total);
  CHECK(one["limit"].GetUint64() == 1);
  auto past = parse_json(
    http_get(url, "/api/suggestions/latest?offset=" + std::to_string(total))
      .body);
  CHECK(past["suggestions"].Size() == 0);
  for (auto q : {"limit=0", "limit=100000", "limit=abc", "offset=-1"}) {
    INFO(q);
    auto r = http_get(url, std::string{"/api/suggestions/latest?"} + q);
    CHECK(r.status == 400);
    auto a = http_get(url, std::string{"/api/audit?"} + q);
    CHECK(a.status == 400);
  }
  auto audit = parse_json(http_get(url, "/api/audit?limit=5&offset=0").body);
  CHECK(audit.HasMember("total"));
  CHECK(audit["entries"].IsArray());
  CHECK(audit["offset"].GetUint64() == 0);
}

TEST_CASE("forced sandbox copies are joined while one runs, then rate-limited",
          "[edge][limits]") {
  auto& h = harness::shared();
  auto db = shop(h);
  auto sandbox = harness::start_private({.nats = false});
  temp_dir data;
  engine_process e{serve(h.dsn(db), data,
                         {"--sandbox-dsn", sandbox->sandbox_dsn(),
                          "--sandbox-auto-test", "0"})};
  auto url = e.wait_ready();
  std::vector<std::future<http_result>> copies;
  for (int i = 0; i < 4; ++i)
    copies.push_back(std::async(std::launch::async, [&] {
      return http_request(url, "POST", "/api/sandbox/prepare", "{}", {}, 300s);
    }));
  std::set<std::string> answers;
  for (auto& f : copies) {
    auto r = f.get();
    INFO(r.body);
    CHECK(r.status == 200);
    answers.insert(r.body);
  }
  CHECK(answers.size() == 1);
  auto st = parse_json(http_get(url, "/api/status").body);
  CHECK(st["sandbox"][0]["preparations"].GetUint64() == 1);
  auto again = http_request(url, "POST", "/api/sandbox/prepare", "{}");
  CHECK(again.status == 429);
  REQUIRE(again.headers.count("retry-after") == 1);
  CHECK(std::stoi(again.headers["retry-after"]) > 0);
  CHECK_THAT(again.body, Catch::Contains("--sandbox-prepare-interval"));
  CHECK(
    parse_json(http_get(url, "/api/status").body)["sandbox"][0]["preparations"]
      .GetUint64()
    == 1);
}
