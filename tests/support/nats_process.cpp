#include "nats_process.hpp"

#include <nats/nats.h>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace optischema::test {

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Resolved in the parent: after fork() only async-signal-safe calls are
// allowed (cnats threads may hold the malloc lock), so the child must not
// search PATH itself.
std::string find_nats_server() {
  if (const char* env = std::getenv("OPTISCHEMA_NATS_SERVER"); env && *env)
    return env;
  if (const char* path = std::getenv("PATH")) {
    std::string_view rest = path;
    while (!rest.empty()) {
      auto colon = rest.find(':');
      auto entry = rest.substr(0, colon);
      if (!entry.empty()) {
        auto candidate = fs::path{entry} / "nats-server";
        if (::access(candidate.c_str(), X_OK) == 0)
          return candidate.string();
      }
      if (colon == std::string_view::npos)
        break;
      rest.remove_prefix(colon + 1);
    }
  }
  if (::access("/usr/bin/nats-server", X_OK) == 0)
    return "/usr/bin/nats-server";
  throw std::runtime_error("nats_process: no nats-server binary in PATH "
                           "(set OPTISCHEMA_NATS_SERVER)");
}

std::string make_temp_dir() {
  auto pattern
    = (fs::temp_directory_path() / "optischema-nats-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error("nats_process: mkdtemp failed: "
                             + std::string{std::strerror(errno)});
  return pattern;
}

// The ports file is {"nats":["nats://127.0.0.1:36829"], ...}. It may be read
// while the server is still writing it, so anything unexpected means "not
// yet" rather than an error.
std::optional<uint16_t> read_ports_file(const fs::path& file) {
  std::ifstream in{file};
  if (!in)
    return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  auto text = ss.str();
  auto key = text.find("\"nats\"");
  if (key == std::string::npos)
    return std::nullopt;
  auto scheme = text.find("nats://", key + 6);
  if (scheme == std::string::npos)
    return std::nullopt;
  auto quote = text.find('"', scheme);
  if (quote == std::string::npos)
    return std::nullopt;
  auto colon = text.rfind(':', quote);
  if (colon == std::string::npos || colon < scheme + 7)
    return std::nullopt;
  unsigned long port = 0;
  for (auto i = colon + 1; i < quote; ++i) {
    if (text[i] < '0' || text[i] > '9')
      return std::nullopt;
    port = port * 10 + static_cast<unsigned long>(text[i] - '0');
    if (port > 65535)
      return std::nullopt;
  }
  if (port == 0)
    return std::nullopt;
  return static_cast<uint16_t>(port);
}

} // namespace

nats_process::nats_process(nats_process_options opts) : opts_(std::move(opts)) {
  binary_ = find_nats_server();
  dir_ = make_temp_dir();
  try {
    spawn();
  } catch (...) {
    // The destructor does not run for a throwing constructor.
    std::error_code ec;
    fs::remove_all(dir_, ec);
    throw;
  }
}

nats_process::~nats_process() {
  stop();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void nats_process::start() {
  if (running())
    return;
  spawn();
}

void nats_process::spawn() {
  // Everything the child needs is prepared before fork().
  std::vector<std::string> args{
    binary_,
    "-a",
    "127.0.0.1",
    "-p",
    port_ == 0 ? std::string{"-1"} : std::to_string(port_),
    "--ports_file_dir",
    dir_,
    "-l",
    dir_ + "/nats.log",
  };
  if (opts_.jetstream) {
    // -sd always: the default store dir is shared by every server on the
    // machine (G16).
    args.insert(args.end(), {"-js", "-sd", dir_ + "/js"});
  }
  args.insert(args.end(), opts_.extra_args.begin(), opts_.extra_args.end());
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& arg : args)
    argv.push_back(arg.data());
  argv.push_back(nullptr);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int out_fd = ::open((dir_ + "/stdout.log").c_str(),
                      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (null_fd < 0 || out_fd < 0) {
    auto err = std::string{std::strerror(errno)};
    if (null_fd >= 0)
      ::close(null_fd);
    if (out_fd >= 0)
      ::close(out_fd);
    throw std::runtime_error("nats_process: cannot open log files: " + err);
  }
  auto parent = ::getpid();
  auto pid = ::fork();
  if (pid < 0) {
    auto err = std::string{std::strerror(errno)};
    ::close(null_fd);
    ::close(out_fd);
    throw std::runtime_error("nats_process: fork failed: " + err);
  }
  if (pid == 0) {
    // Child: async-signal-safe calls only.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent)
      ::_exit(126); // the parent died before prctl took effect
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGPIPE, SIG_DFL);
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(out_fd, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(null_fd);
  ::close(out_fd);
  pid_ = pid;
  auto ports_file = fs::path{dir_}
    / ("nats-server_" + std::to_string(pid) + ".ports");
  auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    if (auto port = read_ports_file(ports_file)) {
      if (port_ != 0 && *port != port_) {
        stop();
        throw std::runtime_error("nats_process: restarted on port "
                                 + std::to_string(*port) + " instead of "
                                 + std::to_string(port_));
      }
      port_ = *port;
      return;
    }
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      pid_ = -1;
      throw std::runtime_error("nats_process: nats-server exited early "
                               "(status "
                               + std::to_string(status) + "), log:\n"
                               + log_tail());
    }
    if (std::chrono::steady_clock::now() > deadline) {
      stop();
      throw std::runtime_error("nats_process: no ports file after 10 s, log:\n"
                               + log_tail());
    }
    std::this_thread::sleep_for(10ms);
  }
}

void nats_process::stop() {
  if (pid_ <= 0)
    return;
  auto pid = pid_;
  pid_ = -1;
  ::kill(pid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + 5s;
  int status = 0;
  for (;;) {
    auto res = ::waitpid(pid, &status, WNOHANG);
    if (res == pid || (res < 0 && errno == ECHILD))
      break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    std::this_thread::sleep_for(5ms);
  }
  // A SIGKILLed server leaves its ports file behind; the next start has a
  // new pid and therefore a new file name, but keep the directory tidy.
  std::error_code ec;
  fs::remove(fs::path{dir_} / ("nats-server_" + std::to_string(pid) + ".ports"),
             ec);
}

std::string nats_process::url() const {
  return "nats://127.0.0.1:" + std::to_string(port_);
}

std::string nats_process::log_tail(size_t max_bytes) const {
  std::string result;
  for (const char* name : {"/nats.log", "/stdout.log"}) {
    std::ifstream in{dir_ + name};
    if (!in)
      continue;
    std::stringstream ss;
    ss << in.rdbuf();
    auto text = ss.str();
    if (text.size() > max_bytes)
      text.erase(0, text.size() - max_bytes);
    result += text;
  }
  return result;
}

struct nats_inbox::impl {
  natsConnection* conn = nullptr;
  natsSubscription* sub = nullptr;
  mutable std::mutex mtx;
  std::vector<message> got;
};

nats_inbox::nats_inbox(const std::string& url, const std::string& subject)
  : impl_(std::make_unique<impl>()) {
  if (natsConnection_ConnectTo(&impl_->conn, url.c_str()) != NATS_OK)
    throw std::runtime_error("nats_inbox: cannot connect to " + url);
  auto on_msg = [](natsConnection*, natsSubscription*, natsMsg* msg,
                   void* closure) {
    auto* x = static_cast<impl*>(closure);
    std::lock_guard<std::mutex> guard{x->mtx};
    x->got.push_back(
      {natsMsg_GetSubject(msg),
       std::string(natsMsg_GetData(msg),
                   static_cast<size_t>(natsMsg_GetDataLength(msg)))});
    natsMsg_Destroy(msg);
  };
  if (natsConnection_Subscribe(&impl_->sub, impl_->conn, subject.c_str(),
                               on_msg, impl_.get())
      != NATS_OK) {
    natsConnection_Destroy(impl_->conn);
    throw std::runtime_error("nats_inbox: cannot subscribe to " + subject);
  }
  // The subscription is registered with the server before the test acts.
  natsConnection_Flush(impl_->conn);
}

nats_inbox::~nats_inbox() {
  natsSubscription_Destroy(impl_->sub);
  natsConnection_Destroy(impl_->conn);
}

std::vector<nats_inbox::message> nats_inbox::messages() const {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  return impl_->got;
}

std::optional<std::string> nats_inbox::first(const std::string& subject) const {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  for (auto& m : impl_->got)
    if (m.subject == subject)
      return m.body;
  return std::nullopt;
}

} // namespace optischema::test
