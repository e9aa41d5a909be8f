// `optischema health`: asks a running engine whether it is alive (or ready)
// and exits 0 or 1, for container health checks where the image has no curl
// (docker-compose.yml's healthcheck, a Kubernetes exec probe).

#include "cli.hpp"

#include "optischema/util/duration.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <cstdio>
#include <string>

namespace optischema::app {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

struct endpoint {
  std::string host;
  std::string port;
};

/// http://host[:port][/] only: the engine serves plain HTTP, and a probe
/// that follows paths or redirects could be pointed elsewhere.
std::optional<endpoint> parse_url(std::string url) {
  constexpr std::string_view scheme = "http://";
  if (url.rfind(scheme, 0) != 0)
    return std::nullopt;
  url.erase(0, scheme.size());
  if (!url.empty() && url.back() == '/')
    url.pop_back();
  if (url.empty() || url.find_first_of("/?#@ ") != std::string::npos)
    return std::nullopt;
  endpoint e;
  if (url.front() == '[') { // [::1]:8080
    auto close = url.find(']');
    if (close == std::string::npos)
      return std::nullopt;
    e.host = url.substr(1, close - 1);
    auto rest = url.substr(close + 1);
    if (!rest.empty() && rest.front() != ':')
      return std::nullopt;
    e.port = rest.empty() ? "80" : rest.substr(1);
  } else if (auto colon = url.rfind(':'); colon != std::string::npos) {
    e.host = url.substr(0, colon);
    e.port = url.substr(colon + 1);
  } else {
    e.host = url;
    e.port = "80";
  }
  if (e.host.empty() || e.port.empty()
      || e.port.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return e;
}

} // namespace

int health(const health_flags& flags) {
  auto ep = parse_url(flags.url);
  if (!ep) {
    std::fprintf(stderr,
                 "optischema health: --url must be http://HOST:PORT (the "
                 "engine's --listen), not %s\n",
                 flags.url.c_str());
    return 2;
  }
  auto timeout = parse_duration(flags.timeout);
  if (!timeout || timeout->count() <= 0) {
    std::fprintf(stderr,
                 "optischema health: --timeout must be a duration "
                 "such as 3s\n");
    return 2;
  }
  auto path = flags.ready ? "/health/ready" : "/health/live";
  try {
    boost::asio::io_context io;
    tcp::resolver resolver{io};
    beast::tcp_stream stream{io};
    stream.expires_after(*timeout);
    stream.connect(resolver.resolve(ep->host, ep->port));
    http::request<http::empty_body> req{http::verb::get, path, 11};
    // An IP literal or localhost passes the engine's Host check.
    req.set(http::field::host, ep->host);
    req.set(http::field::user_agent, "optischema-health");
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024);
    http::read(stream, buf, parser);
    auto& res = parser.get();
    // Printed for the operator; control bytes from whatever answered are
    // not passed to their terminal.
    auto body = res.body();
    for (auto& c : body)
      if (static_cast<unsigned char>(c) < 0x20)
        c = ' ';
    std::printf("%s\n", body.c_str());
    if (res.result_int() == 200)
      return 0;
    std::fprintf(stderr, "optischema health: %s answered %u\n", path,
                 res.result_int());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "optischema health: no answer from %s%s: %s\n",
                 flags.url.c_str(), path, e.what());
    return 1;
  }
}

} // namespace optischema::app
