#include "server_listener.hpp"

#include "server_http_session.hpp"
#include "server_hub.hpp"

namespace optischema::web {

listener::listener(net::io_context& ioc, tcp::acceptor acceptor,
                   std::shared_ptr<hub> state)
  : ioc_(ioc), acceptor_(std::move(acceptor)),
    backoff_(acceptor_.get_executor()), hub_(std::move(state)) {
  // nop
}

void listener::run() {
  // Start on the acceptor's strand, like every later step.
  net::dispatch(acceptor_.get_executor(),
                beast::bind_front_handler(&listener::do_accept,
                                          shared_from_this()));
}

void listener::close() {
  net::post(acceptor_.get_executor(), [self = shared_from_this()] {
    beast::error_code ec;
    self->acceptor_.close(ec);
    self->backoff_.cancel();
  });
}

void listener::do_accept() {
  if (!acceptor_.is_open())
    return;
  // Each connection gets its own strand: its handlers never run
  // concurrently, whatever the number of io threads.
  acceptor_.async_accept(net::make_strand(ioc_),
                         beast::bind_front_handler(&listener::on_accept,
                                                   shared_from_this()));
}

void listener::on_accept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open())
    return;
  if (ec) {
    // Typically EMFILE: retrying at once would spin, so wait a little for
    // other connections to close.
    fail(ec, "accept");
    backoff_.expires_after(std::chrono::milliseconds{100});
    backoff_.async_wait(
      beast::bind_front_handler(&listener::on_backoff, shared_from_this()));
    return;
  }
  // Small frames and responses must not wait for delayed ACKs (Nagle).
  beast::error_code ignored;
  socket.set_option(tcp::no_delay{true}, ignored);
  std::make_shared<http_session>(std::move(socket), hub_)->run();
  do_accept();
}

void listener::on_backoff(beast::error_code ec) {
  if (ec)
    return;
  do_accept();
}

} // namespace optischema::web
