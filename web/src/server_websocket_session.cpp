#include "server_websocket_session.hpp"
#include "optischema/web/access.hpp"

#include "server_json.hpp"
#include "server_ws_command.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace optischema::web {

namespace {

/// Client frames above this size are answered with an error and discarded
/// chunk by chunk, never buffered whole.
constexpr size_t max_client_frame = 64 * 1024;

/// Bytes read per step; bounds the buffer beyond max_client_frame.
constexpr size_t read_chunk = 16 * 1024;

/// Frames above this close the connection (1009): not worth draining.
constexpr size_t max_message = 16 * 1024 * 1024;

/// How long a client may take to send its auth frame when a token is set.
constexpr auto auth_deadline = std::chrono::seconds{10};

constexpr std::string_view auth_hint
  = R"(this engine needs its API token: send {"type":"auth","token":"<token>"} as the first frame (the dashboard does when the token is saved on its Settings page))";

const std::shared_ptr<const std::string>& hello_frame() {
  static const auto frame = [] {
    std::vector<std::string> topics{known_topics.begin(), known_topics.end()};
    return std::make_shared<const std::string>(
      ws_lists_frame("hello", {{"topics", std::move(topics)}}));
  }();
  return frame;
}

const std::shared_ptr<const std::string>& pong_frame() {
  static const auto frame
    = std::make_shared<const std::string>(R"({"type":"pong"})");
  return frame;
}

bool contains(const std::vector<std::string>& xs, const std::string& x) {
  return std::find(xs.begin(), xs.end(), x) != xs.end();
}

} // namespace

websocket_session::websocket_session(tcp::socket socket,
                                     std::shared_ptr<hub> state,
                                     std::unique_ptr<connection_slot> slot)
  : executor_(socket.get_executor()), ws_(std::move(socket)),
    hub_(std::move(state)), slot_(std::move(slot)),
    queue_limit_(std::max<size_t>(hub_->options().ws_queue_limit, 1)),
    auth_timer_(executor_) {
  // nop
}

websocket_session::~websocket_session() {
  hub_->unsubscribe(this);
  hub_->remove(this);
  // Reserved by the HTTP session before the upgrade.
  hub_->release_ws_client();
}

void websocket_session::run(http::request<http::string_body> req) {
  // We are on the strand already: the HTTP session shared this socket's.
  if (!hub_->add(this, weak_from_this()))
    return do_close();
  // Pings after 30 s of silence, close after 60 s: dead peers (laptop lid
  // shut, NAT timeout) free their session.
  websocket::stream_base::timeout timeouts;
  timeouts.handshake_timeout = std::chrono::seconds{30};
  timeouts.idle_timeout = std::chrono::seconds{60};
  timeouts.keep_alive_pings = true;
  ws_.set_option(timeouts);
  ws_.set_option(
    websocket::stream_base::decorator([](websocket::response_type& res) {
      res.set(http::field::server, "optischema");
      for (auto& [name, value] : security_headers())
        res.set(name, value);
      res.set("Content-Security-Policy", default_csp());
    }));
  ws_.read_message_max(max_message);
  ws_.async_accept(req,
                   beast::bind_front_handler(&websocket_session::on_accept,
                                             shared_from_this()));
}

void websocket_session::close() {
  net::post(executor_,
            beast::bind_front_handler(&websocket_session::do_close,
                                      shared_from_this()));
}

bool websocket_session::wants(const std::string& target,
                              const std::string& topic) const {
  std::lock_guard<std::mutex> guard{mtx_};
  return (targets_.empty() || contains(targets_, target))
    && (topics_.empty() || contains(topics_, topic));
}

void websocket_session::send(std::shared_ptr<const std::string> frame) {
  enqueue(std::move(frame), true);
}

void websocket_session::on_accept(beast::error_code ec) {
  if (ec) {
    mark_dead();
    return fail(ec, "ws accept");
  }
  accepted_ = true;
  if (closing_)
    return;
  if (hub_->options().access.api_token.empty()) {
    start_streaming();
  } else {
    auth_timer_.expires_after(auth_deadline);
    auth_timer_.async_wait(beast::bind_front_handler(
      &websocket_session::on_auth_deadline, shared_from_this()));
  }
  if (!closing_ && !close_when_sent_)
    do_read();
}

void websocket_session::start_streaming() {
  authenticated_ = true;
  if (!hub_->subscribe(this, weak_from_this()))
    return do_close();
  enqueue(hello_frame(), false);
}

void websocket_session::on_auth_deadline(beast::error_code ec) {
  if (ec || closing_ || authenticated_)
    return;
  refuse(ws_error_frame(fmt::format("no auth frame within {} s; {}",
                                    auth_deadline.count(), auth_hint),
                        "unauthorized"),
         websocket::close_code::policy_error);
}

void websocket_session::authenticate(std::string_view token) {
  auto& expected = hub_->options().access.api_token;
  if (token_matches(expected, token)) {
    auth_timer_.cancel();
    return start_streaming();
  }
  refuse(ws_error_frame("the token is wrong; send the engine's API token",
                        "unauthorized"),
         websocket::close_code::policy_error);
}

void websocket_session::do_read() {
  ws_.async_read_some(buffer_, read_chunk,
                      beast::bind_front_handler(&websocket_session::on_read,
                                                shared_from_this()));
}

void websocket_session::on_read(beast::error_code ec, size_t) {
  if (ec) {
    mark_dead();
    return fail(ec, "ws read");
  }
  if (close_when_sent_)
    return; // refused: nothing the client says matters any more
  if (buffer_.size() > max_client_frame) {
    // Keep reading the message, but not keeping it.
    oversized_ = true;
    buffer_.clear();
  }
  if (ws_.is_message_done()) {
    if (!authenticated_ && (oversized_ || !ws_.got_text()))
      refuse(ws_error_frame(auth_hint, "unauthorized"),
             websocket::close_code::policy_error);
    else if (oversized_)
      reply(ws_error_frame(
        fmt::format("frame larger than {} bytes; ignored", max_client_frame)));
    else if (!ws_.got_text())
      reply(ws_error_frame("expected a text frame with a JSON object"));
    else
      on_message(
        {static_cast<const char*>(buffer_.data().data()), buffer_.size()});
    buffer_.clear();
    oversized_ = false;
  }
  if (!closing_ && !close_when_sent_)
    do_read();
}

void websocket_session::on_message(std::string_view text) {
  auto cmd = parse_ws_command(text);
  if (!authenticated_) {
    if (cmd.what == ws_command::kind::auth)
      return authenticate(cmd.token);
    return refuse(ws_error_frame(auth_hint, "unauthorized"),
                  websocket::close_code::policy_error);
  }
  switch (cmd.what) {
    case ws_command::kind::invalid: return reply(ws_error_frame(cmd.error));
    // Authenticated already, or no token needed: nothing to do.
    case ws_command::kind::auth: return;
    case ws_command::kind::ping: return enqueue(pong_frame(), false);
    case ws_command::kind::subscribe: break;
  }
  auto frame = ws_lists_frame(
    "subscribed", {{"targets", cmd.targets}, {"topics", cmd.topics}});
  {
    std::lock_guard<std::mutex> guard{mtx_};
    targets_ = std::move(cmd.targets);
    topics_ = std::move(cmd.topics);
  }
  reply(std::move(frame));
}

void websocket_session::reply(std::string text) {
  enqueue(std::make_shared<const std::string>(std::move(text)), false);
}

void websocket_session::refuse(std::string text, websocket::close_code code) {
  if (close_when_sent_ || closing_)
    return;
  auth_timer_.cancel();
  hub_->unsubscribe(this);
  close_when_sent_ = true;
  close_code_ = code;
  {
    // Only the refusal goes out: queued frames are dropped.
    std::lock_guard<std::mutex> guard{mtx_};
    queue_.clear();
  }
  reply(std::move(text));
}

void websocket_session::enqueue(std::shared_ptr<const std::string> text,
                                bool droppable) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (dead_)
      return;
    if (queue_.size() >= queue_limit_) {
      // Drop the oldest broadcast frame: the client sees a gap in
      // slow-moving data, never a stale backlog or a blocked server.
      auto victim = std::find_if(queue_.begin(), queue_.end(),
                                 [](const queued& x) { return x.droppable; });
      if (victim == queue_.end())
        victim = queue_.begin();
      queue_.erase(victim);
      ++hub_->stats().ws_frames_dropped;
    }
    queue_.push_back({std::move(text), droppable});
    if (writing_)
      return;
    writing_ = true;
  }
  // Post outside the lock; the strand then drains the queue.
  net::post(executor_,
            beast::bind_front_handler(&websocket_session::do_write,
                                      shared_from_this()));
}

void websocket_session::do_write() {
  if (closing_ || in_flight_)
    return;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (dead_ || queue_.empty()) {
      writing_ = false;
    } else {
      in_flight_ = std::move(queue_.front().text);
      queue_.pop_front();
    }
  }
  if (!in_flight_) {
    // A refusal went out: now the close frame.
    if (close_when_sent_)
      do_close();
    return;
  }
  ws_.text(true);
  ws_.async_write(net::buffer(*in_flight_),
                  beast::bind_front_handler(&websocket_session::on_write,
                                            shared_from_this()));
}

void websocket_session::on_write(beast::error_code ec, size_t) {
  in_flight_.reset();
  if (ec) {
    mark_dead();
    return fail(ec, "ws write");
  }
  ++hub_->stats().ws_frames_sent;
  do_write();
}

void websocket_session::do_close() {
  if (closing_)
    return;
  closing_ = true;
  auth_timer_.cancel();
  mark_dead();
  if (!accepted_ || in_flight_) {
    // A close frame cannot overtake the handshake or a pending write, and
    // a client that stopped reading would never let either finish.
    beast::error_code ec;
    auto& socket = beast::get_lowest_layer(ws_).socket();
    socket.shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(ws_).close();
    return;
  }
  // Bound the close handshake: shutdown must not wait for a silent peer.
  websocket::stream_base::timeout timeouts;
  ws_.get_option(timeouts);
  timeouts.handshake_timeout = std::chrono::seconds{1};
  ws_.set_option(timeouts);
  ws_.async_close(close_code_,
                  beast::bind_front_handler(&websocket_session::on_close,
                                            shared_from_this()));
}

void websocket_session::on_close(beast::error_code ec) {
  if (ec)
    fail(ec, "ws close");
}

void websocket_session::mark_dead() {
  std::lock_guard<std::mutex> guard{mtx_};
  dead_ = true;
  queue_.clear();
}

} // namespace optischema::web
