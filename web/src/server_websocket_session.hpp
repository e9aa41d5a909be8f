#pragma once

// One WebSocket client: sends broadcast frames it subscribed to and answers
// its subscribe/ping frames. With an API token set, nothing is sent until
// the client's first frame is {"type":"auth","token":"…"} (browsers cannot
// set headers on a WebSocket); a wrong or missing one closes the socket. Writes
// go through a bounded queue that drops the oldest broadcast frame when full,
// so a stalled client costs a fixed amount of memory and never slows down the
// broadcaster or the other clients.

#include "server_hub.hpp"
#include "server_net.hpp"


#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace optischema::web {

class websocket_session
  : public session_base,
    public std::enable_shared_from_this<websocket_session> {
public:
  websocket_session(tcp::socket socket, std::shared_ptr<hub> state,
                    std::unique_ptr<connection_slot> slot);

  ~websocket_session() override;

  /// Accepts the upgrade `req` and starts the session.
  void run(http::request<http::string_body> req);

  void close() override;

  /// True when the subscription covers `target` and `topic`. Any thread.
  bool wants(const std::string& target, const std::string& topic) const;

  /// Queues a broadcast frame. Any thread; never blocks beyond a short lock.
  void send(std::shared_ptr<const std::string> frame);

private:
  struct queued {
    std::shared_ptr<const std::string> text;
    /// Broadcast frames may be dropped; replies to the client are kept
    /// unless the queue holds nothing else.
    bool droppable;
  };

  void on_accept(beast::error_code ec);

  void do_read();

  void on_read(beast::error_code ec, size_t bytes);

  void on_message(std::string_view text);

  /// The first frame when a token is set: admits the client or closes.
  void authenticate(std::string_view token);

  void on_auth_deadline(beast::error_code ec);

  /// Starts the stream: subscribes to broadcasts and says hello.
  void start_streaming();

  void reply(std::string text);

  /// Sends `text` (an error frame) and then closes with `code`; nothing
  /// else is sent in between.
  void refuse(std::string text, websocket::close_code code);

  void enqueue(std::shared_ptr<const std::string> text, bool droppable);

  void do_write();

  void on_write(beast::error_code ec, size_t bytes);

  void do_close();

  void on_close(beast::error_code ec);

  /// Stops queueing: after an error nothing will be written any more.
  void mark_dead();

  const net::any_io_executor executor_;
  websocket::stream<beast::tcp_stream> ws_;
  std::shared_ptr<hub> hub_;
  std::unique_ptr<connection_slot> slot_;
  const size_t queue_limit_;

  // Touched only on the strand.
  beast::flat_buffer buffer_;
  net::steady_timer auth_timer_;
  bool oversized_ = false;
  bool accepted_ = false;
  bool authenticated_ = false;
  bool closing_ = false;
  /// Close once the queue is written (after a refusal), with this code.
  bool close_when_sent_ = false;
  websocket::close_code close_code_ = websocket::close_code::going_away;
  std::shared_ptr<const std::string> in_flight_;

  // Shared with broadcasting threads.
  mutable std::mutex mtx_;
  std::deque<queued> queue_;
  bool writing_ = false; // a do_write is posted or a write is in flight
  bool dead_ = false;
  std::vector<std::string> targets_; // empty: all
  std::vector<std::string> topics_;  // empty: all
};

} // namespace optischema::web
