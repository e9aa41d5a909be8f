#include "optischema/util/logging.hpp"

#include "optischema/util/redact.hpp"

#include <spdlog/sinks/base_sink.h>

#include <cstdio>
#include <memory>
#include <mutex>

namespace optischema {

namespace {

/// Formats like any sink, then scrubs secrets before the bytes leave.
class redacting_sink : public spdlog::sinks::base_sink<std::mutex> {
public:
  explicit redacting_sink(std::FILE* out, bool owned)
    : out_(out), owned_(owned) {}
  ~redacting_sink() override {
    if (owned_)
      std::fclose(out_);
  }

protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    auto clean = redact_secrets({formatted.data(), formatted.size()});
    std::fwrite(clean.data(), 1, clean.size(), out_);
    std::fflush(out_);
  }
  void flush_() override {
    std::fflush(out_);
  }

private:
  std::FILE* out_;
  bool owned_;
};

std::shared_ptr<spdlog::logger>& instance() {
  static auto x = [] {
    auto sink = std::make_shared<redacting_sink>(stderr, false);
    auto lg = std::make_shared<spdlog::logger>("optischema", sink);
    lg->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v");
    lg->set_level(spdlog::level::info);
    return lg;
  }();
  return x;
}

} // namespace

namespace detail {
spdlog::logger& logger() {
  return *instance();
}
} // namespace detail

bool init_logging(const std::string& level, const std::string& file) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off")
    return false;
  if (!file.empty()) {
    auto* out = std::fopen(file.c_str(), "a");
    if (out == nullptr)
      return false;
    auto lg = std::make_shared<spdlog::logger>(
      "optischema", std::make_shared<redacting_sink>(out, true));
    lg->set_pattern("%Y-%m-%dT%H:%M:%S.%e %-5l %v");
    instance() = lg;
  }
  instance()->set_level(lvl);
  return true;
}

} // namespace optischema
