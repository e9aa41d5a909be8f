#include "server_hub.hpp"

#include "server_websocket_session.hpp"

#include <utility>

namespace optischema::web {

hub::hub(server_options opts) : opts_(std::move(opts)) {
  // nop
}

server_stats hub::snapshot() const {
  server_stats result;
  result.requests = counters_.requests.load();
  result.ws_clients = counters_.ws_clients.load();
  result.ws_frames_sent = counters_.ws_frames_sent.load();
  result.ws_frames_dropped = counters_.ws_frames_dropped.load();
  return result;
}

void hub::set_handler(request_handler h) {
  auto ptr = h ? std::make_shared<const request_handler>(std::move(h))
               : std::shared_ptr<const request_handler>{};
  std::lock_guard<std::mutex> guard{handler_mtx_};
  handler_.swap(ptr);
}

std::shared_ptr<const request_handler> hub::handler() const {
  std::lock_guard<std::mutex> guard{handler_mtx_};
  return handler_;
}

std::string hub::cors_origin(std::string_view origin) const {
  if (origin.empty())
    return {};
  for (auto& allowed : opts_.cors_origins) {
    if (allowed == "*")
      return "*";
    // Tolerate "http://host:3000/" in the configuration: browsers send the
    // origin without a trailing slash.
    std::string_view x = allowed;
    while (!x.empty() && x.back() == '/')
      x.remove_suffix(1);
    if (x == origin)
      return std::string{origin};
  }
  return {};
}

bool hub::add(session_base* key, std::weak_ptr<session_base> x) {
  std::lock_guard<std::mutex> guard{sessions_mtx_};
  if (!accepting_)
    return false;
  sessions_.emplace(key, std::move(x));
  return true;
}

void hub::remove(session_base* key) {
  std::lock_guard<std::mutex> guard{sessions_mtx_};
  sessions_.erase(key);
}

bool hub::subscribe(websocket_session* key,
                    std::weak_ptr<websocket_session> x) {
  std::lock_guard<std::mutex> guard{sessions_mtx_};
  if (!accepting_)
    return false;
  subscribers_.emplace(key, std::move(x));
  return true;
}

void hub::unsubscribe(websocket_session* key) {
  std::lock_guard<std::mutex> guard{sessions_mtx_};
  subscribers_.erase(key);
}

void hub::broadcast(const std::string& target, const std::string& topic,
                    const std::shared_ptr<const std::string>& frame) {
  std::vector<std::weak_ptr<websocket_session>> receivers;
  {
    std::lock_guard<std::mutex> guard{sessions_mtx_};
    if (!accepting_)
      return; // stopping: sessions are closing, nothing would be sent
    receivers.reserve(subscribers_.size());
    for (auto& [key, session] : subscribers_)
      receivers.push_back(session);
  }
  for (auto& weak : receivers)
    if (auto session = weak.lock(); session && session->wants(target, topic))
      session->send(frame);
}

std::vector<std::weak_ptr<session_base>> hub::shut_down() {
  std::vector<std::weak_ptr<session_base>> result;
  std::lock_guard<std::mutex> guard{sessions_mtx_};
  accepting_ = false;
  result.reserve(sessions_.size());
  for (auto& [key, session] : sessions_)
    result.push_back(session);
  return result;
}

void hub::close_posting() {
  std::lock_guard<std::mutex> guard{post_mtx_};
  posting_ = false;
}

} // namespace optischema::web
