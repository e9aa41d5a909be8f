#pragma once

// A real nats-server for integration tests: loopback only, a free port, a
// fresh temporary directory, JetStream by default. Stopping and starting
// again keeps the port, so tests can take the server away from a client and
// give it back.
//
// Cleanup: there is no watchdog process. The destructor stops the server and
// removes the directory; should the test binary die without running it, the
// child still gets SIGKILL because it asks for PR_SET_PDEATHSIG right after
// fork, so no server outlives the test process. PR_SET_PDEATHSIG follows the
// *thread* that forked: create, start and stop a nats_process on a thread
// that outlives it (the test's main thread, normally).

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace optischema::test {

struct nats_process_options {
  /// Start with `-js -sd DIR/js`.
  bool jetstream = true;
  /// More command-line arguments, e.g. {"--user", "u", "--pass", "p"}.
  std::vector<std::string> extra_args = {};
};

class nats_process {
public:
  /// Creates the directory and starts the server on a free port; throws
  /// std::runtime_error (with the tail of the server log) on failure.
  explicit nats_process(nats_process_options opts = {});

  ~nats_process();

  nats_process(const nats_process&) = delete;
  nats_process& operator=(const nats_process&) = delete;

  /// Starts the server again on the port of the first start. Throws
  /// std::runtime_error on failure. No-op when already running.
  void start();

  /// SIGTERM, then SIGKILL after 5 s; waits for the process either way.
  void stop();

  bool running() const {
    return pid_ > 0;
  }

  /// nats://127.0.0.1:<port>, valid also while stopped.
  std::string url() const;

  uint16_t port() const {
    return port_;
  }

  const std::string& dir() const {
    return dir_;
  }

  /// The last `max_bytes` of DIR/nats.log, for failure messages.
  std::string log_tail(size_t max_bytes = 2000) const;

private:
  void spawn();

  nats_process_options opts_;
  std::string dir_;
  std::string binary_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

/// A NATS subscriber that keeps every message of a subject (wildcards
/// allowed) for a test to look at, from the client library's own thread.
class nats_inbox {
public:
  struct message {
    std::string subject;
    std::string body;
  };

  /// Connects to `url` and subscribes to `subject`; throws on failure.
  nats_inbox(const std::string& url, const std::string& subject);
  ~nats_inbox();
  nats_inbox(const nats_inbox&) = delete;
  nats_inbox& operator=(const nats_inbox&) = delete;

  /// Everything received so far, in order.
  std::vector<message> messages() const;
  /// The body of the first message on `subject`, if one came.
  std::optional<std::string> first(const std::string& subject) const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace optischema::test
