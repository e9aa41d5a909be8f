#pragma once

// A scripted OpenAI-compatible endpoint for tests: a real HTTP server on a
// free loopback port (Boost.Beast, one I/O thread, keep-alive), answering
// POST /v1/chat/completions with replies a test queues or computes.
// Delayed replies wait on timers, so a slow reply never holds up other
// connections, and the destructor returns at once even while one waits.

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace optischema::test {

class fake_openai {
public:
  using clock = std::chrono::steady_clock;

  struct reply {
    unsigned status = 200;
    // `{}` initialisers: `reply{500, body}` then compiles without
    // -Wmissing-field-initializers warnings.
    std::string body{};
    /// Extra headers; Content-Type defaults to application/json.
    std::vector<std::pair<std::string, std::string>> headers{};
    /// How long the server waits before answering.
    std::chrono::milliseconds delay{0};
    /// Closes the connection after this reply without announcing it (no
    /// Connection: close), as a server's idle timeout does to a client's
    /// pooled keep-alive connection.
    bool drop_connection = false;
  };

  struct recorded_request {
    std::string method;
    std::string path;                           ///< with the query, as sent
    std::map<std::string, std::string> headers; ///< lower-case names
    std::string body;
    /// When the request was read completely.
    clock::time_point received;
  };

  using handler_type = std::function<reply(const recorded_request&)>;

  /// Listens on 127.0.0.1 and a free port.
  fake_openai();
  ~fake_openai();

  fake_openai(const fake_openai&) = delete;
  fake_openai& operator=(const fake_openai&) = delete;

  /// "http://127.0.0.1:PORT/v1"
  std::string base_url() const;
  unsigned short port() const;

  /// Queues one reply (FIFO) for the next chat-completions request.
  void push(reply r);

  /// Answers chat-completions requests when the queue is empty; by default
  /// a 500 that says "no scripted reply". Runs on the server's one I/O
  /// thread: it must not block (slow answers use reply::delay); what it
  /// throws becomes a 500.
  void set_handler(handler_type f);

  /// Scripts every POST, whatever its path, not only chat completions: a
  /// local webhook, Slack or Alertmanager receiver.
  void accept_every_path();

  /// An OpenAI-style success body (id, object, created, model,
  /// choices[0].message, finish_reason, usage).
  static std::string
  completion(const std::string& content, int prompt_tokens = 120,
             int completion_tokens = 60, const std::string& model = "gpt-4o");

  /// An OpenAI-style error body: {"error": {"message", "type", "param",
  /// "code"}}.
  static std::string error(const std::string& message,
                           const std::string& type = "invalid_request_error",
                           const std::string& param = {});

  /// Every request received (any path), oldest first.
  std::vector<recorded_request> requests() const;
  /// How many requests were received (any path).
  size_t calls() const;
  /// The most requests that were ever in progress (received, not yet
  /// answered) at once.
  size_t max_in_flight() const;
  /// How many TCP connections were accepted (keep-alive reuses one).
  size_t connections() const;
  /// Forgets the recorded requests, the queue, max_in_flight and the
  /// connection count.
  void clear();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace optischema::test
