#include "http_client.hpp"

#include <utility> // before Asio (feasibility.md G4)

#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include <stdexcept>

namespace optischema::test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

std::pair<std::string, std::string> split_url(const std::string& url) {
  auto rest = url.substr(url.find("://") + 3);
  auto colon = rest.rfind(':');
  return {rest.substr(0, colon), rest.substr(colon + 1)};
}

/// Runs the io_context until `done` or the timeout; throws on timeout.
void run_until(net::io_context& ioc, const bool& done,
               std::chrono::milliseconds timeout, const char* what) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    ioc.run_for(std::chrono::milliseconds{10});
    if (ioc.stopped())
      ioc.restart();
  }
  if (!done)
    throw std::runtime_error(std::string{"timeout: "} + what);
}

} // namespace

http_result http_request(const std::string& url, const std::string& method,
                         const std::string& target, const std::string& body,
                         std::map<std::string, std::string> headers,
                         std::chrono::milliseconds timeout) {
  auto [host, port] = split_url(url);
  net::io_context ioc;
  beast::tcp_stream stream{ioc};
  tcp::resolver resolver{ioc};
  stream.connect(resolver.resolve(host, port));
  http::request<http::string_body> req{http::string_to_verb(method), target,
                                       11};
  req.set(http::field::host, host);
  for (auto& [k, v] : headers)
    req.set(k, v);
  if (!body.empty() || method == "POST") {
    req.body() = body;
    if (headers.count("Content-Type") == 0)
      req.set(http::field::content_type, "application/json");
    req.prepare_payload();
  }
  http::write(stream, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  bool done = false;
  beast::error_code err;
  http::async_read(stream, buf, res, [&](beast::error_code ec, size_t) {
    err = ec;
    done = true;
  });
  run_until(ioc, done, timeout, "HTTP response");
  if (err)
    throw std::runtime_error("HTTP read failed: " + err.message());
  http_result out;
  out.status = res.result_int();
  out.body = res.body();
  for (auto& f : res) {
    std::string name{f.name_string()};
    for (auto& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string{f.value()};
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return out;
}

http_result http_get(const std::string& url, const std::string& target,
                     std::chrono::milliseconds timeout) {
  return http_request(url, "GET", target, {}, {}, timeout);
}

std::string raw_request(const std::string& url, const std::string& bytes,
                        std::chrono::milliseconds timeout) {
  auto [host, port] = split_url(url);
  net::io_context ioc;
  tcp::socket sock{ioc};
  tcp::resolver resolver{ioc};
  net::connect(sock, resolver.resolve(host, port));
  net::write(sock, net::buffer(bytes));
  std::string out;
  std::array<char, 4096> chunk{};
  bool done = false;
  std::function<void()> read_more = [&] {
    sock.async_read_some(net::buffer(chunk),
                         [&](beast::error_code ec, size_t n) {
                           out.append(chunk.data(), n);
                           if (ec)
                             done = true;
                           else
                             read_more();
                         });
  };
  read_more();
  try {
    run_until(ioc, done, timeout, "raw response");
  } catch (const std::runtime_error&) {
    // The server may keep the connection open: return what arrived.
  }
  return out;
}

struct ws_client::impl {
  net::io_context ioc;
  websocket::stream<tcp::socket> ws{ioc};
  beast::flat_buffer buf;
  /// A read is outstanding. A timed-out read stays outstanding (cancelling
  /// would break the stream) and the next call waits for it.
  bool reading = false;
  bool done = false;
  beast::error_code err;
};

ws_client::ws_client(const std::string& url, const std::string& target)
  : impl_(std::make_unique<impl>()) {
  auto [host, port] = split_url(url);
  tcp::resolver resolver{impl_->ioc};
  net::connect(impl_->ws.next_layer(), resolver.resolve(host, port));
  impl_->ws.handshake(host + ":" + port, target);
}

ws_client::~ws_client() {
  beast::error_code ignored;
  impl_->ws.next_layer().close(ignored);
}

void ws_client::send(const std::string& text) {
  impl_->ws.text(true);
  impl_->ws.write(net::buffer(text));
}

std::optional<std::string> ws_client::read(std::chrono::milliseconds timeout) {
  auto& d = *impl_;
  if (!d.reading) {
    d.reading = true;
    d.done = false;
    d.ws.async_read(d.buf, [&d](beast::error_code ec, size_t) {
      d.err = ec;
      d.done = true;
    });
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!d.done && std::chrono::steady_clock::now() < deadline) {
    d.ioc.run_for(std::chrono::milliseconds{10});
    if (d.ioc.stopped())
      d.ioc.restart();
  }
  if (!d.done)
    return std::nullopt;
  d.reading = false;
  if (d.err)
    throw std::runtime_error("WebSocket read failed: " + d.err.message());
  auto text = beast::buffers_to_string(d.buf.data());
  d.buf.consume(d.buf.size());
  return text;
}

bool subscribe(ws_client& ws, const std::string& subscribe,
               std::chrono::milliseconds timeout) {
  ws.send(subscribe);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto frame = ws.read(std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now()));
    if (!frame)
      return false;
    // The confirmation is the only frame of this type.
    if (frame->find(R"("type":"subscribed")") != std::string::npos)
      return true;
  }
  return false;
}

} // namespace optischema::test
