#pragma once

// The real `optischema` binary as a child process, for integration tests:
// started with arguments, its log captured to a file, its URL learned from
// the "serving http://…" line, stopped with SIGTERM or killed with SIGKILL.
// The child gets SIGKILL if the test process dies (PR_SET_PDEATHSIG).

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace optischema::test {

class engine_process {
public:
  /// Starts `optischema <args...>`. Does not wait for readiness.
  explicit engine_process(std::vector<std::string> args);
  ~engine_process();
  engine_process(const engine_process&) = delete;
  engine_process& operator=(const engine_process&) = delete;

  /// Waits until the engine prints its URL; throws with the log on timeout
  /// or if the process exits first.
  const std::string&
  wait_ready(std::chrono::milliseconds timeout = std::chrono::seconds{20});

  /// The base URL ("http://127.0.0.1:PORT"); wait_ready first.
  const std::string& url() const {
    return url_;
  }

  /// Waits for the process to exit; its exit code, or nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

  /// SIGTERM and wait; returns the exit code (-signal if killed).
  int stop(std::chrono::milliseconds timeout = std::chrono::seconds{20});

  /// SIGKILL and wait: a crash, as far as the engine can tell.
  void kill9();

  bool running();

  /// The process id (for /proc figures in benchmarks); -1 once exited.
  pid_t pid() const {
    return pid_;
  }

  /// Everything the engine logged so far (stdout and stderr).
  std::string log() const;

private:
  pid_t pid_ = -1;
  int status_ = 0;
  std::string log_path_;
  std::string url_;
};

} // namespace optischema::test
