#include "server_http_session.hpp"

#include "optischema/util/strings.hpp"
#include "optischema/web/access.hpp"

#include "server_json.hpp"
#include "server_static_files.hpp"
#include "server_uri.hpp"
#include "server_websocket_session.hpp"

#include <boost/algorithm/string/predicate.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <utility>

namespace optischema::web {

namespace {

/// Longest piece of a client-supplied string echoed in an error message.
constexpr size_t max_echo = 200;

std::string_view clip(std::string_view x) {
  return x.substr(0, max_echo);
}

std::string format_remote(const tcp::socket& socket) {
  beast::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec)
    return "unknown";
  auto addr = ep.address();
  if (addr.is_v6())
    return fmt::format("[{}]:{}", addr.to_string(), ep.port());
  return fmt::format("{}:{}", addr.to_string(), ep.port());
}

/// Rejects what would corrupt the response: control characters (a CR LF
/// would let a value start new headers) and the framing headers, which are
/// ours to set.
bool is_valid_header(std::string_view name, std::string_view value) {
  auto is_ctl = [](unsigned char c) { return c < 0x20 || c == 0x7f; };
  if (name.empty() || std::any_of(name.begin(), name.end(), is_ctl)
      || name.find_first_of(" :") != std::string_view::npos)
    return false;
  if (std::any_of(value.begin(), value.end(),
                  [&](unsigned char c) { return c != '\t' && is_ctl(c); }))
    return false;
  for (auto framing : {"content-length", "transfer-encoding", "connection"})
    if (boost::iequals(name, framing))
      return false;
  return true;
}

bool is_api_path(std::string_view path) {
  return path == "/health" || path.starts_with("/health/") || path == "/api"
    || path == "/metrics" || path.starts_with("/api/");
}

constexpr int64_t not_waiting = std::numeric_limits<int64_t>::max();

/// Answers one request exactly once, from any thread. Holds the session
/// weakly: a handler may keep a responder past the connection and even past
/// the server, and must not keep sockets alive that way.
class responder_impl final : public responder {
public:
  responder_impl(std::weak_ptr<http_session> session,
                 std::shared_ptr<hub> state, uint64_t id)
    : session_(std::move(session)), hub_(std::move(state)), id_(id) {
    // nop
  }

  ~responder_impl() override {
    if (done_.exchange(true))
      return;
    // Dropped without an answer: tell the client instead of letting it
    // hang until the handler timeout.
    try {
      http_response res;
      res.status = 500;
      res.body = error_json(to_string(ec::internal),
                            "the engine dropped the request without an "
                            "answer");
      deliver(std::move(res));
    } catch (...) {
      // A destructor must not throw; the handler timeout answers instead.
    }
  }

  void respond(http_response res) override {
    if (done_.exchange(true)) {
      OPTISCHEMA_DEBUG("web: ignoring a second response to one request");
      return;
    }
    deliver(std::move(res));
  }

private:
  void deliver(http_response res) {
    hub_->guarded([&] {
      // Lock, post, and give up the reference while posting is known to be
      // safe: the posted handler then holds the only new reference.
      if (auto session = session_.lock()) {
        auto ex = session->executor();
        net::post(ex,
                  [session = std::move(session), id = id_,
                   res = std::move(res)]() mutable {
                    session->on_handler_response(id, std::move(res));
                  });
      }
    });
  }

  std::weak_ptr<http_session> session_;
  std::shared_ptr<hub> hub_;
  uint64_t id_;
  std::atomic<bool> done_{false};
};

} // namespace

http_session::http_session(tcp::socket socket, std::shared_ptr<hub> state,
                           std::unique_ptr<connection_slot> slot)
  : executor_(socket.get_executor()), stream_(std::move(socket)),
    hub_(std::move(state)), slot_(std::move(slot)), handler_timer_(executor_) {
  remote_ = format_remote(stream_.socket());
}

http_session::~http_session() {
  hub_->remove(this);
}

void http_session::run() {
  if (!hub_->add(this, weak_from_this())) {
    // The server is stopping; this connection came in just before.
    net::dispatch(executor_,
                  beast::bind_front_handler(&http_session::do_close,
                                            shared_from_this()));
    return;
  }
  // Run on the strand from the first step on: the read and the timers
  // below must not race with close().
  net::dispatch(executor_,
                beast::bind_front_handler(&http_session::do_read,
                                          shared_from_this()));
}

void http_session::close() {
  // Never picked to make room twice.
  waiting_since_ = not_waiting;
  net::post(executor_,
            beast::bind_front_handler(&http_session::do_close,
                                      shared_from_this()));
}

void http_session::do_read() {
  if (closed_)
    return;
  info_ = {};
  // A fresh parser per request: the limits apply per request.
  parser_.emplace();
  parser_->body_limit(hub_->options().max_body_bytes);
  parser_->header_limit(header_limit);
  // An idle keep-alive connection and a slowloris client look the same
  // from here: both are closed after the header timeout, and both are the
  // first to go when the connections run out.
  waiting_since_ = steady_now_ns();
  stream_.expires_after(header_timeout);
  http::async_read_header(stream_, buffer_, *parser_,
                          beast::bind_front_handler(&http_session::on_header,
                                                    shared_from_this()));
}

void http_session::on_header(beast::error_code ec, size_t bytes) {
  if (closed_)
    return;
  waiting_since_ = not_waiting;
  if (ec)
    return on_read(ec, bytes);
  // Refused requests never get their body read.
  describe(parser_->get());
  if (!admitted(parser_->get()))
    return;
  stream_.expires_after(read_timeout);
  if (parser_->is_done())
    return on_read(ec, bytes);
  // curl sends "Expect: 100-continue" for bodies above 1 KiB and waits a
  // second for the go-ahead. Oversized bodies never get here: the parser
  // rejects their Content-Length with the header.
  auto& req = parser_->get();
  if (req.version() >= 11
      && beast::iequals(req[http::field::expect], "100-continue")) {
    static constexpr std::string_view go_ahead
      = "HTTP/1.1 100 Continue\r\n\r\n";
    return net::async_write(stream_,
                            net::buffer(go_ahead.data(), go_ahead.size()),
                            beast::bind_front_handler(
                              &http_session::on_continue, shared_from_this()));
  }
  read_body();
}

void http_session::on_continue(beast::error_code ec, size_t) {
  if (ec) {
    fail(ec, "http write");
    return do_close();
  }
  read_body();
}

void http_session::read_body() {
  if (closed_)
    return;
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&http_session::on_read,
                                             shared_from_this()));
}

void http_session::describe(const http::request<http::string_body>& req) {
  info_.version = req.version();
  info_.keep_alive = req.keep_alive();
  info_.head = req.method() == http::verb::head;
  info_.method = std::string{req.method_string()};
  info_.cors = hub_->cors_origin(to_std(req[http::field::origin]));
}

bool http_session::admitted(const http::request<http::string_body>& req) {
  if (req.count(http::field::host) > 1) {
    send_error(http::status::bad_request, to_string(ec::bad_request),
               "the request has more than one Host header", true);
    return false;
  }
  request_facts facts;
  facts.method = to_std(req.method_string());
  auto host = req.find(http::field::host);
  facts.has_host = host != req.end();
  if (facts.has_host)
    facts.host = to_std(host->value());
  auto origin = req.find(http::field::origin);
  facts.has_origin = origin != req.end();
  if (facts.has_origin)
    facts.origin = to_std(origin->value());
  facts.authorization = to_std(req[http::field::authorization]);
  facts.content_type = to_std(req[http::field::content_type]);
  facts.websocket = websocket::is_upgrade(req);
  auto refused = admit(facts, hub_->options().access);
  if (!refused)
    return true;
  // Close: the body, if any, stays unread (the linger drains it).
  send_error(static_cast<http::status>(refused->status), refused->code,
             refused->message, true, refused->headers);
  return false;
}

void http_session::on_read(beast::error_code ec, size_t) {
  if (closed_)
    return;
  if (ec == http::error::end_of_stream)
    return do_close();
  if (ec == http::error::body_limit)
    return send_error(http::status::payload_too_large, "payload_too_large",
                      fmt::format("the request body exceeds the limit of {} "
                                  "bytes",
                                  hub_->options().max_body_bytes),
                      true);
  if (ec == http::error::header_limit)
    return send_error(http::status::request_header_fields_too_large,
                      "headers_too_large",
                      fmt::format("the request line and headers exceed {} "
                                  "bytes",
                                  header_limit),
                      true);
  if (ec == http::error::buffer_overflow)
    return send_error(http::status::bad_request, to_string(ec::bad_request),
                      "malformed HTTP request: a line of the request (a "
                      "chunk header?) does not end",
                      true);
  if (ec
      && ec.category()
        == http::make_error_code(http::error::bad_method).category()
      && ec != http::error::partial_message)
    return send_error(http::status::bad_request, to_string(ec::bad_request),
                      fmt::format("malformed HTTP request: {}", ec.message()),
                      true);
  if (ec) {
    // Timeout, reset, or a client that left mid-request: nobody to answer.
    fail(ec, "http read");
    return do_close();
  }
  handle(parser_->release());
}

void http_session::handle(http::request<http::string_body> req) {
  ++request_id_;
  auto raw = to_std(req.target());
  auto target = parse_target(raw);
  if (!target)
    return send_error(http::status::bad_request, to_string(ec::bad_request),
                      fmt::format("malformed request target '{}'", clip(raw)),
                      false);
  info_.path = target->path;
  if (has_dot_dot_segment(target->path))
    return send_error(http::status::bad_request, to_string(ec::bad_request),
                      "the path must not contain '..' segments", false);
  if (req.method() == http::verb::options)
    return send_preflight();
  if (target->path == "/ws") {
    if (!websocket::is_upgrade(req))
      return send_error(http::status::upgrade_required, "upgrade_required",
                        "/ws expects a WebSocket upgrade", false);
    return upgrade(std::move(req));
  }
  // Every handler and the stores behind it expect text; bytes that are not
  // UTF-8 would come back as invalid JSON.
  if (!valid_utf8(req.body()))
    return send_error(http::status::bad_request, to_string(ec::bad_request),
                      "the request body is not valid UTF-8", false);
  if (is_api_path(target->path))
    return serve_api(std::move(req), std::move(*target));
  serve_static(*target, raw);
}

void http_session::upgrade(http::request<http::string_body> req) {
  if (!hub_->reserve_ws_client())
    return send_error(
      http::status::service_unavailable, "too_many_websockets",
      fmt::format("{} WebSocket clients are connected, the most this engine "
                  "serves; close other dashboards or raise --max-ws-clients",
                  hub_->options().max_ws_clients),
      true, {{"Retry-After", "10"}});
  // The socket and its connection slot move to the WebSocket session; this
  // session ends once its last handler returns.
  closed_ = true;
  std::make_shared<websocket_session>(stream_.release_socket(), hub_,
                                      std::move(slot_))
    ->run(std::move(req));
}

void http_session::serve_api(http::request<http::string_body> req,
                             parsed_target target) {
  auto handler = hub_->handler();
  if (!handler)
    return send_error(http::status::service_unavailable, "starting",
                      "the engine is starting", false);
  http_request x;
  x.method = info_.method;
  x.path = std::move(target.path);
  x.query = std::move(target.query);
  x.body = std::move(req.body());
  x.content_type = std::string{req[http::field::content_type]};
  x.authorization = std::string{req[http::field::authorization]};
  x.remote = remote_;
  // The pending timer also keeps this session alive while the handler
  // works: responders only hold it weakly.
  awaiting_handler_ = true;
  handler_timer_.expires_after(handler_timeout);
  handler_timer_.async_wait(beast::bind_front_handler(
    &http_session::on_handler_timeout, shared_from_this(), request_id_));
  auto out = std::make_shared<responder_impl>(weak_from_this(), hub_,
                                              request_id_);
  try {
    (*handler)(std::move(x), std::move(out));
  } catch (const std::exception& e) {
    // The responder died with the call's arguments and answers 500.
    OPTISCHEMA_WARN("web: handler for {} {} threw: {}", info_.method,
                    info_.path, e.what());
  } catch (...) {
    OPTISCHEMA_WARN("web: handler for {} {} threw", info_.method, info_.path);
  }
}

void http_session::on_handler_response(uint64_t id, http_response x) {
  if (closed_ || !awaiting_handler_ || id != request_id_)
    return;
  awaiting_handler_ = false;
  handler_timer_.cancel();
  response res;
  res.version(info_.version);
  res.result(x.status >= 100 && x.status <= 599 ? x.status : 500u);
  if (!x.content_type.empty())
    res.set(http::field::content_type, x.content_type);
  for (auto& [name, value] : x.headers)
    if (is_valid_header(name, value))
      res.insert(name, value);
  res.body() = std::move(x.body);
  send(std::move(res), false);
}

void http_session::on_handler_timeout(uint64_t id, beast::error_code ec) {
  if (ec || closed_ || !awaiting_handler_ || id != request_id_)
    return;
  awaiting_handler_ = false;
  send_error(http::status::gateway_timeout, to_string(ec::timeout),
             fmt::format("the engine did not answer within {} s",
                         std::chrono::seconds{handler_timeout}.count()),
             false);
}

void http_session::serve_static(const parsed_target& target,
                                std::string_view raw) {
  auto& dir = hub_->options().static_dir;
  if (dir.empty() || (info_.method != "GET" && info_.method != "HEAD"))
    return send_not_found();
  auto found = find_static_file(dir, target.path);
  if (found.what == static_lookup::kind::directory) {
    // "/x" -> "/x/": the export's pages live at x/index.html, and relative
    // links inside them only resolve with the trailing slash.
    auto query = raw.find('?');
    auto location = std::string{raw.substr(0, query)} + "/";
    if (query != std::string_view::npos)
      location += raw.substr(query);
    response res{http::status::permanent_redirect, info_.version};
    res.set(http::field::location, location);
    res.set(http::field::cache_control, "no-cache");
    return send(std::move(res), false);
  }
  auto status = http::status::ok;
  if (found.what == static_lookup::kind::missing) {
    auto page = std::filesystem::path{dir} / "404.html";
    std::error_code err;
    if (!std::filesystem::is_regular_file(page, err))
      return send_not_found();
    status = http::status::not_found;
    found.file = std::move(page);
  }
  auto body = read_file(found.file);
  if (!body) {
    OPTISCHEMA_WARN("web: cannot read {}", found.file.string());
    return send_error(
      http::status::internal_server_error, to_string(ec::internal),
      fmt::format("cannot read the file for {}", clip(target.path)), false);
  }
  response res{status, info_.version};
  auto type = mime_type(found.file);
  res.set(http::field::content_type, to_beast(type));
  // Pages get a policy that lets exactly their own inline scripts run.
  if (type.starts_with("text/html"))
    res.set("Content-Security-Policy", page_csp(*body));
  res.set(http::field::cache_control,
          status == http::status::ok && is_immutable_asset(target.path)
            ? "public, max-age=31536000, immutable"
            : "no-cache");
  res.body() = std::move(*body);
  send(std::move(res), false);
}

void http_session::send_preflight() {
  response res{http::status::no_content, info_.version};
  if (!info_.cors.empty()) {
    res.set(http::field::access_control_allow_methods, "GET, POST, OPTIONS");
    res.set(http::field::access_control_allow_headers,
            "Authorization, Content-Type");
    res.set(http::field::access_control_max_age, "600");
  }
  send(std::move(res), false);
}

void http_session::send_error(
  http::status status, std::string_view code, std::string_view message,
  bool close, const std::vector<std::pair<std::string, std::string>>& headers) {
  response res{status, info_.version};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  for (auto& [name, value] : headers)
    res.set(name, value);
  res.body() = error_json(code, message);
  send(std::move(res), close);
}

void http_session::send_not_found() {
  send_error(http::status::not_found, to_string(ec::not_found),
             fmt::format("no route for {} {}", clip(info_.method),
                         clip(info_.path)),
             false);
}

void http_session::send(response res, bool close) {
  res.set(http::field::server, "optischema");
  for (auto& [name, value] : security_headers())
    res.set(name, value);
  if (res.find("Content-Security-Policy") == res.end())
    res.set("Content-Security-Policy", default_csp());
  if (!info_.cors.empty()) {
    res.set(http::field::access_control_allow_origin, info_.cors);
    res.set(http::field::vary, "Origin");
  }
  res.keep_alive(info_.keep_alive && !close);
  auto status = res.result_int();
  if (status < 200 || status == 204 || status == 304) {
    // These never carry a body, nor a Content-Length (RFC 9110 8.6).
    res.body().clear();
    res.content_length(boost::none);
  } else {
    auto size = res.body().size();
    if (info_.head)
      res.body().clear();
    res.content_length(size);
  }
  res_ = std::move(res);
  auto eof = close || res_.need_eof();
  stream_.expires_after(write_timeout);
  http::async_write(stream_, res_,
                    beast::bind_front_handler(&http_session::on_write,
                                              shared_from_this(), eof));
}

void http_session::on_write(bool close, beast::error_code ec, size_t) {
  if (ec) {
    fail(ec, "http write");
    return do_close();
  }
  ++hub_->stats().requests;
  res_ = {};
  if (closed_)
    return;
  if (close)
    return do_linger();
  do_read();
}

void http_session::do_linger() {
  // Draining is waiting too: the first to go when connections run out.
  waiting_since_ = steady_now_ns();
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec)
    return do_close();
  stream_.expires_after(linger_timeout);
  stream_.async_read_some(net::buffer(linger_buf_),
                          beast::bind_front_handler(&http_session::on_linger,
                                                    shared_from_this()));
}

void http_session::on_linger(beast::error_code ec, size_t bytes) {
  lingered_ += bytes;
  // Drain at most 1 MiB: past that the client is sending on purpose.
  if (ec || closed_ || lingered_ > (1u << 20))
    return do_close();
  stream_.expires_after(linger_timeout);
  stream_.async_read_some(net::buffer(linger_buf_),
                          beast::bind_front_handler(&http_session::on_linger,
                                                    shared_from_this()));
}

void http_session::do_close() {
  if (closed_ && !stream_.socket().is_open())
    return;
  closed_ = true;
  awaiting_handler_ = false;
  handler_timer_.cancel();
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  stream_.close();
}

} // namespace optischema::web
