#include "engine_process.hpp"

#include "harness.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace optischema::test {

namespace {

std::string temp_log() {
  static int counter = 0;
  return (std::filesystem::temp_directory_path()
          / ("optischema-engine-" + std::to_string(getpid()) + "-"
             + std::to_string(counter++) + ".log"))
    .string();
}

} // namespace

engine_process::engine_process(std::vector<std::string> args)
  : log_path_(temp_log()) {
  auto binary = engine_binary();
  std::vector<std::string> argv_s{binary};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  auto parent = getpid();
  pid_ = fork();
  if (pid_ < 0)
    throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
      _exit(127);
    int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
    std::vector<char*> argv;
    for (auto& a : argv_s)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
}

engine_process::~engine_process() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    waitpid(pid_, &status_, 0);
  }
  std::error_code ec;
  std::filesystem::remove(log_path_, ec);
}

std::string engine_process::log() const {
  std::ifstream in{log_path_};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool engine_process::running() {
  if (pid_ <= 0)
    return false;
  if (waitpid(pid_, &status_, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

const std::string&
engine_process::wait_ready(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string marker = "optischema: serving ";
  while (std::chrono::steady_clock::now() < deadline) {
    auto text = log();
    if (auto i = text.find(marker); i != std::string::npos) {
      auto end = text.find('\n', i);
      if (end != std::string::npos) {
        url_ = text.substr(i + marker.size(), end - i - marker.size());
        return url_;
      }
    }
    if (!running())
      throw std::runtime_error("engine exited before it was ready:\n" + log());
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  throw std::runtime_error("engine not ready in time:\n" + log());
}

std::optional<int>
engine_process::wait_exit(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!running())
      return WIFEXITED(status_) ? WEXITSTATUS(status_) : -WTERMSIG(status_);
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  return std::nullopt;
}

int engine_process::stop(std::chrono::milliseconds timeout) {
  if (running())
    ::kill(pid_, SIGTERM);
  auto rc = wait_exit(timeout);
  if (!rc) {
    kill9();
    throw std::runtime_error("engine did not stop on SIGTERM:\n" + log());
  }
  return *rc;
}

void engine_process::kill9() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    waitpid(pid_, &status_, 0);
    pid_ = -1;
  }
}

} // namespace optischema::test
