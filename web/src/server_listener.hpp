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

  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  net::steady_timer backoff_;
  std::shared_ptr<hub> hub_;
};

} // namespace optischema::web
