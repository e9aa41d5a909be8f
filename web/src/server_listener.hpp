#pragma once

// Accepts connections and gives each its own strand and http_session.

#include "server_net.hpp"

#include <memory>

namespace optischema::web {

class hub;

class listener : public std::enable_shared_from_this<listener> {
public:
  /// Takes a bound, listening acceptor whose executor is a strand.
  listener(net::io_context& ioc, tcp::acceptor acceptor,
           std::shared_ptr<hub> state);

  /// Starts the accept loop.
  void run();

  /// Closes the acceptor; callable from any thread.
  void close();

private:
  void do_accept();

  void on_accept(beast::error_code ec, tcp::socket socket);

  void on_backoff(beast::error_code ec);

  /// Every few seconds: hands memory freed by ended connections back to
  /// the system.
  void schedule_trim();

  void on_trim(beast::error_code ec);

  /// Answers 503 and closes a connection beyond the limit.
  void refuse(tcp::socket socket);

  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  net::steady_timer backoff_;
  net::steady_timer trim_;
  uint64_t closed_at_last_trim_ = 0;
  std::shared_ptr<hub> hub_;
};

} // namespace optischema::web
