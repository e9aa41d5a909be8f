#include "server_listener.hpp"

#include "optischema/web/access.hpp"

#include "server_http_session.hpp"
#include "server_hub.hpp"
#include "server_json.hpp"

#include <sstream>

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace optischema::web {

listener::listener(net::io_context& ioc, tcp::acceptor acceptor,
                   std::shared_ptr<hub> state)
  : ioc_(ioc), acceptor_(std::move(acceptor)),
    backoff_(acceptor_.get_executor()), trim_(acceptor_.get_executor()),
    hub_(std::move(state)) {
  // nop
}

void listener::run() {
  // Start on the acceptor's strand, like every later step.
  net::dispatch(acceptor_.get_executor(),
                beast::bind_front_handler(&listener::do_accept,
                                          shared_from_this()));
  net::dispatch(acceptor_.get_executor(),
                beast::bind_front_handler(&listener::schedule_trim,
                                          shared_from_this()));
}

void listener::close() {
  net::post(acceptor_.get_executor(), [self = shared_from_this()] {
    beast::error_code ec;
    self->acceptor_.close(ec);
    self->backoff_.cancel();
    self->trim_.cancel();
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
  if (auto slot = hub_->open_connection())
    std::make_shared<http_session>(std::move(socket), hub_, std::move(slot))
      ->run();
  else
    refuse(std::move(socket));
  do_accept();
}

void listener::refuse(tcp::socket socket) {
  // Accepted only to be told, in one write that never blocks, and closed:
  // a refused connection costs no memory beyond this call.
  static const std::string answer = [] {
    http::response<http::string_body> res{http::status::service_unavailable,
                                          11};
    res.set(http::field::server, "optischema");
    res.set(http::field::content_type, "application/json");
    res.set(http::field::cache_control, "no-store");
    res.set(http::field::retry_after, "1");
    for (auto& [name, value] : security_headers())
      res.set(name, value);
    res.set("Content-Security-Policy", default_csp());
    res.keep_alive(false);
    res.body() = error_json("too_many_connections",
                            "the engine serves as many connections as it "
                            "allows (--max-connections); try again");
    res.prepare_payload();
    std::ostringstream out;
    out << res;
    return out.str();
  }();
  beast::error_code ec;
  socket.non_blocking(true, ec);
  socket.write_some(net::buffer(answer), ec);
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

void listener::on_backoff(beast::error_code ec) {
  if (ec)
    return;
  do_accept();
}

void listener::schedule_trim() {
  if (!acceptor_.is_open())
    return;
  trim_.expires_after(std::chrono::seconds{5});
  trim_.async_wait(
    beast::bind_front_handler(&listener::on_trim, shared_from_this()));
}

void listener::on_trim(beast::error_code ec) {
  if (ec || !acceptor_.is_open())
    return;
  // glibc keeps the memory of a burst of connections in its arenas after
  // they end: measured, 10,000 hostile requests left RSS at 55 MB instead
  // of 36 MB, all of it free and given back by malloc_trim. Memory stays
  // bounded after a burst, not only during it.
  auto closed = hub_->stats().connections_closed.load();
  if (closed - closed_at_last_trim_ >= 64) {
    closed_at_last_trim_ = closed;
#ifdef __GLIBC__
    malloc_trim(0);
#endif
  }
  schedule_trim();
}

} // namespace optischema::web
