#pragma once

// Minimal HTTP and WebSocket clients for tests (Boost.Beast), every call
// bounded by a timeout so a broken engine fails a test instead of hanging it.

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace optischema::test {

struct http_result {
  unsigned status = 0;
  std::string body;
  std::map<std::string, std::string> headers; ///< lower-case names
};

/// `url` is "http://host:port"; `target` the path with query.
http_result
http_get(const std::string& url, const std::string& target,
         std::chrono::milliseconds timeout = std::chrono::seconds{10});
http_result
http_request(const std::string& url, const std::string& method,
             const std::string& target, const std::string& body = {},
             std::map<std::string, std::string> headers = {},
             std::chrono::milliseconds timeout = std::chrono::seconds{10});
/// Sends raw bytes and returns the raw answer (for malformed requests).
std::string
raw_request(const std::string& url, const std::string& bytes,
            std::chrono::milliseconds timeout = std::chrono::seconds{5});

/// A WebSocket client of "/ws".
class ws_client {
public:
  explicit ws_client(const std::string& url, const std::string& target = "/ws");
  ~ws_client();
  void send(const std::string& text);
  /// The next text frame, or nullopt when none arrives in time.
  std::optional<std::string> read(std::chrono::milliseconds timeout);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Reads the hello frame, sends `subscribe` (a subscribe message) and reads
/// until the server confirms it; frames broadcast before the confirmation
/// (under the default subscribe-to-everything) are skipped. False on
/// timeout.
bool subscribe(ws_client& ws, const std::string& subscribe,
               std::chrono::milliseconds timeout = std::chrono::seconds{5});

} // namespace optischema::test
