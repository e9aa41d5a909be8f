#pragma once

// Small helpers shared by integration tests.

#include <rapidjson/document.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

namespace optischema::test {

inline rapidjson::Document parse_json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  if (d.HasParseError())
    throw std::runtime_error("not JSON: " + text.substr(0, 500));
  return d;
}

/// Polls `f` until it returns true or `timeout` passes; returns f's last
/// answer. Bounded waits instead of sleeps keep tests fast and honest.
template <class F>
bool eventually(F f, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step
                = std::chrono::milliseconds{50}) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (f())
      return true;
    std::this_thread::sleep_for(step);
  }
  return f();
}

/// The resident set of process `pid` in KiB (-1 when it is gone).
inline long rss_kb(pid_t pid) {
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/status").c_str(),
                       "r");
  if (f == nullptr)
    return -1;
  char line[256];
  long kb = -1;
  while (std::fgets(line, sizeof line, f) != nullptr)
    if (std::string_view{line}.rfind("VmRSS:", 0) == 0)
      kb = std::atol(line + 6);
  std::fclose(f);
  return kb;
}

/// A loopback port nobody listens on (bound, read, released).
inline int closed_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

/// The standard output of a shell command, trailing newlines removed.
inline std::string shell_output(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr)
    return out;
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
    out.append(buf, n);
  pclose(p);
  while (!out.empty() && out.back() == '\n')
    out.pop_back();
  return out;
}

/// A fresh directory, removed with its contents at scope exit.
struct temp_dir {
  std::filesystem::path path;
  explicit temp_dir(const std::string& prefix = "optischema-test") {
    static int n = 0;
    path = std::filesystem::temp_directory_path()
      / (prefix + "-" + std::to_string(getpid()) + "-" + std::to_string(n++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string str() const {
    return path.string();
  }
};

} // namespace optischema::test
