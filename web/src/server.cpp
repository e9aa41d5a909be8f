#include "optischema/web/server.hpp"

#include "server_hub.hpp"
#include "server_listener.hpp"
#include "server_net.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string_view>
#include <system_error>
#include <thread>

namespace optischema::web {

namespace {

/// How long stop() lets sessions finish their close handshakes before it
/// stops the io_context regardless.
constexpr auto stop_grace = std::chrono::seconds{3};

struct listen_address {
  net::ip::address address;
  uint16_t port = 0;
  /// The host as url() shows it: "localhost", "127.0.0.1", "[::1]".
  std::string host;
};

failure bad_address(const std::string& text, std::string_view why) {
  return failure{ec::invalid_configuration,
                 fmt::format("invalid listen address '{}': {}; expected "
                             "host:port such as 127.0.0.1:8080 or [::1]:8080",
                             text, why)};
}

expected<listen_address> parse_listen(const std::string& text) {
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string::npos)
      return bad_address(text, "missing ']'");
    host = std::string_view{text}.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':')
      return bad_address(text, "missing ':port' after ']'");
    port = std::string_view{text}.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos)
      return bad_address(text, "missing ':port'");
    host = std::string_view{text}.substr(0, colon);
    port = std::string_view{text}.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      return bad_address(text, "IPv6 addresses need brackets");
  }
  if (host.empty())
    return bad_address(text,
                       "missing host (0.0.0.0 listens on all "
                       "interfaces)");
  if (port.empty() || port.size() > 5
      || !std::all_of(port.begin(), port.end(),
                      [](unsigned char c) { return std::isdigit(c); }))
    return bad_address(text, "the port must be a number from 0 to 65535");
  auto port_number = std::stoul(std::string{port});
  if (port_number > 65535)
    return bad_address(text, "the port must be a number from 0 to 65535");
  listen_address result;
  result.port = static_cast<uint16_t>(port_number);
  if (host == "localhost") {
    // Avoid the resolver: "localhost" may map to ::1 first, and the
    // dashboard's own links use 127.0.0.1-style addresses.
    result.address = net::ip::address_v4::loopback();
    result.host = "localhost";
    return result;
  }
  beast::error_code err;
  result.address = net::ip::make_address(std::string{host}, err);
  if (err)
    return bad_address(text,
                       fmt::format("'{}' is not an IP address (use an "
                                   "IP literal or localhost)",
                                   host));
  if (text.starts_with('[') && !result.address.is_v6())
    return bad_address(text, "brackets are for IPv6 addresses");
  result.host = result.address.is_v6()
    ? fmt::format("[{}]", result.address.to_string())
    : result.address.to_string();
  return result;
}

/// Turns a bind/listen error into what the user should do about it.
std::string describe(const beast::error_code& err) {
  if (err == net::error::address_in_use)
    return "address already in use; pass another --listen";
  if (err == boost::system::errc::address_not_available)
    return "the address is not local to this machine; pass another --listen "
           "(127.0.0.1, 0.0.0.0 or an address of this host)";
  if (err == net::error::access_denied)
    return "permission denied (ports below 1024 need privileges); pass "
           "another --listen";
  return fmt::format("{}; pass another --listen", err.message());
}

class server_impl final : public server {
public:
  explicit server_impl(server_options opts)
    : hub_(std::make_shared<hub>(std::move(opts))),
      ioc_(static_cast<int>(hub_->options().io_threads)) {
    // nop
  }

  ~server_impl() override {
    stop();
  }

  expected<ok> listen(const listen_address& addr) {
    auto text = fmt::format("{}:{}", addr.host, addr.port);
    auto error = [&](const beast::error_code& err) {
      return failure{ec::invalid_configuration,
                     fmt::format("cannot listen on {}: {}", text,
                                 describe(err))};
    };
    tcp::endpoint endpoint{addr.address, addr.port};
    tcp::acceptor acceptor{net::make_strand(ioc_)};
    beast::error_code err;
    acceptor.open(endpoint.protocol(), err);
    if (err)
      return error(err);
    // Restarts must not wait for TIME_WAIT sockets of the previous run.
    acceptor.set_option(net::socket_base::reuse_address{true}, err);
    if (err)
      return error(err);
    acceptor.bind(endpoint, err);
    if (err)
      return error(err);
    acceptor.listen(net::socket_base::max_listen_connections, err);
    if (err)
      return error(err);
    port_ = acceptor.local_endpoint().port();
    url_ = fmt::format("http://{}:{}", addr.host, port_);
    listener_ = std::make_shared<listener>(ioc_, std::move(acceptor), hub_);
    return ok{};
  }

  void run() {
    // The pending accept is the io_context's work: run() returns only once
    // stop() closed the acceptor and every session ended.
    listener_->run();
    auto n = hub_->options().io_threads;
    running_ = n;
    threads_.reserve(n);
    for (size_t i = 0; i < n; ++i)
      threads_.emplace_back([this] { run_thread(); });
    OPTISCHEMA_INFO("web: listening on {} ({} io threads)", url_, n);
    for (auto& w : warnings_)
      OPTISCHEMA_WARN("web: {}", w);
  }

  void set_handler(request_handler h) override {
    hub_->set_handler(std::move(h));
  }

  void broadcast(const std::string& target, const std::string& topic,
                 std::shared_ptr<const std::string> frame) override {
    if (frame)
      hub_->broadcast(target, topic, frame);
  }

  uint16_t port() const override {
    return port_;
  }

  std::string url() const override {
    return url_;
  }

  std::vector<std::string> warnings() const override {
    return warnings_;
  }

  void set_warnings(std::vector<std::string> xs) {
    warnings_ = std::move(xs);
  }

  server_stats stats() const override {
    return hub_->snapshot();
  }

  void stop() override {
    std::lock_guard<std::mutex> guard{stop_mtx_};
    if (stopped_)
      return;
    stopped_ = true;
    if (!listener_) {
      hub_->close_posting(); // never started
      return;
    }
    auto sessions = hub_->shut_down();
    listener_->close();
    for (auto& weak : sessions)
      if (auto session = weak.lock())
        session->close();
    sessions.clear();
    auto self = std::this_thread::get_id();
    auto on_io_thread
      = std::any_of(threads_.begin(), threads_.end(),
                    [&](const std::thread& t) { return t.get_id() == self; });
    {
      // With everything closed the io threads run out of work and return;
      // a peer that ignores the close handshake gets cut off below.
      std::unique_lock<std::mutex> lock{run_mtx_};
      auto finished = run_cv_.wait_for(lock, stop_grace, [&] {
        return running_ == (on_io_thread ? 1u : 0u);
      });
      if (!finished)
        OPTISCHEMA_DEBUG("web: sessions still open after {} s, forcing",
                         stop_grace.count());
    }
    ioc_.stop();
    for (auto& t : threads_) {
      if (t.get_id() == self) {
        // Called from a handler: joining ourselves would deadlock.
        OPTISCHEMA_WARN("web: stop() called on an io thread");
        t.detach();
      } else if (t.joinable()) {
        t.join();
      }
    }
    threads_.clear();
    hub_->close_posting();
    OPTISCHEMA_DEBUG("web: stopped listening on {}", url_);
  }

private:
  void run_thread() {
    for (;;) {
      try {
        ioc_.run();
        break;
      } catch (const std::exception& e) {
        // A handler threw; keep serving the other connections.
        OPTISCHEMA_ERROR("web: io thread caught an exception: {}", e.what());
      }
    }
    {
      std::lock_guard<std::mutex> guard{run_mtx_};
      --running_;
    }
    run_cv_.notify_all();
  }

  // Declaration order is destruction order in reverse: the listener and
  // then the io_context (with any handler still queued, and the sessions
  // they own) go before the hub those sessions point to.
  std::shared_ptr<hub> hub_;
  net::io_context ioc_;
  std::shared_ptr<listener> listener_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
  std::string url_;
  std::vector<std::string> warnings_;
  std::mutex stop_mtx_;
  bool stopped_ = false;
  std::mutex run_mtx_;
  std::condition_variable run_cv_;
  size_t running_ = 0;
};

/// What an operator should know about how exposed the port is.
std::vector<std::string> exposure_warnings(const listen_address& addr,
                                           const access_policy& access) {
  std::vector<std::string> out;
  auto token = !access.api_token.empty();
  if (!token && !addr.address.is_loopback())
    out.push_back(fmt::format(
      "listening on {} without an API token (--insecure-listen): anyone who "
      "can reach the port can start analyses, polls and sandbox copies; put "
      "an authenticating proxy in front or set --api-token-file",
      addr.host));
  if (std::find(access.cors_origins.begin(), access.cors_origins.end(), "*")
      != access.cors_origins.end())
    out.push_back(token ? "--cors-origin '*': pages on any site may call the "
                          "API from a browser (the token is still needed)"
                        : "--cors-origin '*' without an API token: pages on "
                          "any site may call the API from a browser");
  if (std::find(access.allowed_hosts.begin(), access.allowed_hosts.end(), "*")
      != access.allowed_hosts.end())
    out.push_back("--allowed-host '*': any Host is accepted, so DNS rebinding "
                  "is not prevented");
  return out;
}

} // namespace

expected<std::shared_ptr<server>> server::start(server_options opts) {
  auto addr = parse_listen(opts.listen);
  if (!addr)
    return addr.error();
  // Without a token every POST is open: only this machine may send them,
  // unless the operator says a proxy in front authenticates.
  if (opts.access.api_token.empty() && !addr->address.is_loopback()
      && !opts.access.insecure_listen)
    return failure{
      ec::invalid_configuration,
      fmt::format("refusing to listen on {} without an API token: anyone "
                  "who can reach it could start analyses and sandbox copies "
                  "on your databases. Set a token (umask 077; head -c 24 "
                  "/dev/urandom | base64 > token; --api-token-file token), "
                  "listen on 127.0.0.1, or pass --insecure-listen when an "
                  "authenticating proxy is in front",
                  opts.listen)};
  if (!opts.static_dir.empty()) {
    std::error_code err;
    if (!std::filesystem::is_directory(opts.static_dir, err))
      return failure{ec::invalid_configuration,
                     fmt::format("static directory '{}' is not a directory; "
                                 "pass the dashboard's export (its out/ "
                                 "directory) or nothing",
                                 opts.static_dir)};
  }
  opts.io_threads = std::max<size_t>(opts.io_threads, 1);
  opts.ws_queue_limit = std::max<size_t>(opts.ws_queue_limit, 1);
  opts.max_connections = std::max<size_t>(opts.max_connections, 2);
  opts.max_ws_clients = std::max<size_t>(opts.max_ws_clients, 1);
  auto warnings = exposure_warnings(*addr, opts.access);
  auto impl = std::make_shared<server_impl>(std::move(opts));
  impl->set_warnings(std::move(warnings));
  if (auto res = impl->listen(*addr); !res)
    return res.error();
  impl->run();
  return std::shared_ptr<server>{std::move(impl)};
}

} // namespace optischema::web
