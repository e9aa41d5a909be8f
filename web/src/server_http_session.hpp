#pragma once

// One HTTP/1.1 connection: reads a request, routes it (REST handler,
// WebSocket upgrade, static file), writes the answer, repeats (keep-alive).
// One request at a time; every step runs on the connection's strand.

#include "optischema/web/server.hpp"

#include "server_hub.hpp"
#include "server_net.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace optischema::web {

struct parsed_target;

class http_session : public session_base,
                     public std::enable_shared_from_this<http_session> {
public:
  http_session(tcp::socket socket, std::shared_ptr<hub> state,
               std::unique_ptr<connection_slot> slot);

  ~http_session() override;

  /// Registers with the hub and starts reading.
  void run();

  void close() override;

  int64_t waiting_since() const override {
    return waiting_since_.load();
  }

  /// The strand, for responders posting from other threads.
  const net::any_io_executor& executor() const {
    return executor_;
  }

  /// Writes the handler's answer to request `id`; runs on the strand. Stale
  /// answers (after a timeout, or for a closed connection) are dropped.
  void on_handler_response(uint64_t id, http_response res);

private:
  using response = http::response<http::string_body>;

  /// What the answer to the current request depends on.
  struct request_info {
    unsigned version = 11;
    bool keep_alive = false;
    bool head = false;
    std::string method;
    std::string path;
    std::string cors; // Access-Control-Allow-Origin, empty for none
  };

  void do_read();

  void on_header(beast::error_code ec, size_t bytes);

  /// Notes what the answer depends on (version, keep-alive, CORS) from the
  /// headers of the request being read.
  void describe(const http::request<http::string_body>& req);

  /// The access rule (access.hpp) on the headers, before any body is read;
  /// false when the request was refused.
  bool admitted(const http::request<http::string_body>& req);

  /// Hands the socket to a WebSocket session if a client slot is free.
  void upgrade(http::request<http::string_body> req);

  void on_continue(beast::error_code ec, size_t bytes);

  void read_body();

  void on_read(beast::error_code ec, size_t bytes);

  void handle(http::request<http::string_body> req);

  void serve_api(http::request<http::string_body> req, parsed_target target);

  void serve_static(const parsed_target& target, std::string_view raw);

  void send_preflight();

  void
  send_error(http::status status, std::string_view code,
             std::string_view message, bool close,
             const std::vector<std::pair<std::string, std::string>>& headers
             = {});

  void send_not_found();

  /// Adds the common headers and writes `res`; closes afterwards when
  /// `close` is set or the client asked for it.
  void send(response res, bool close);

  void on_write(bool close, beast::error_code ec, size_t bytes);

  void on_handler_timeout(uint64_t id, beast::error_code ec);

  /// Half-closes, then reads and discards until the client closes too (or a
  /// timeout): closing with unread input would reset the connection and
  /// could destroy the error response before the client reads it.
  void do_linger();

  void on_linger(beast::error_code ec, size_t bytes);

  void do_close();

  const net::any_io_executor executor_;
  beast::tcp_stream stream_;
  std::shared_ptr<hub> hub_;
  std::unique_ptr<connection_slot> slot_;
  std::string remote_;
  beast::flat_buffer buffer_{read_buffer_limit};
  std::atomic<int64_t> waiting_since_{std::numeric_limits<int64_t>::max()};
  std::optional<http::request_parser<http::string_body>> parser_;
  response res_;
  request_info info_;
  net::steady_timer handler_timer_;
  uint64_t request_id_ = 0;
  bool awaiting_handler_ = false;
  bool closed_ = false;
  std::array<char, 4096> linger_buf_;
  size_t lingered_ = 0;
};

} // namespace optischema::web
