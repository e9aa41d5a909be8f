#include "optischema/util/logging.hpp"

#include "optischema/util/log_format.hpp"

#include "optischema/util/redact.hpp"
#include "optischema/util/strings.hpp"

#include <spdlog/sinks/base_sink.h>

#include <chrono>
#include <cstdio>
#include <ctime>
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

// -- --log-format json
// ---------------------------------------------------------

namespace optischema {

namespace {

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
      ++i;
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
      ++i;
    } else if (auto n = utf8_sequence(s, i); n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD"; // U+FFFD
      ++i;
    }
  }
  out += '"';
}

class json_formatter : public spdlog::formatter {
public:
  void format(const spdlog::details::log_msg& msg,
              spdlog::memory_buf_t& dest) override {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                msg.time.time_since_epoch())
                .count();
    auto level = spdlog::level::to_string_view(msg.level);
    auto line = json_log_line(ms, {level.data(), level.size()},
                              {msg.payload.data(), msg.payload.size()});
    line += '\n';
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<json_formatter>();
  }
};

} // namespace

std::string json_log_line(long long epoch_ms, std::string_view level,
                          std::string_view message) {
  std::time_t secs = epoch_ms / 1000;
  std::tm utc{};
  gmtime_r(&secs, &utc);
  char stamp[40];
  auto n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(stamp + n, sizeof stamp - n, ".%03lldZ", epoch_ms % 1000);
  std::string out = "{\"time\":\"";
  out += stamp;
  out += "\",\"level\":";
  append_json_string(out, level);
  out += ",\"message\":";
  append_json_string(out, message);
  out += '}';
  return out;
}

void use_json_logs() {
  instance()->set_formatter(std::make_unique<json_formatter>());
}

} // namespace optischema
