#pragma once

// Compact binary encodings of the metrics model for RocksDB values. Every
// value starts with a format byte so a later version can read old data.

#include "optischema/analysis/metrics.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace optischema::codec {

class encoder {
public:
  void reserve(size_t n) {
    out_.reserve(n);
  }
  void u8(uint8_t x) {
    out_.push_back(static_cast<char>(x));
  }
  void i64(int64_t x);
  void f64(double x);
  void str(std::string_view x);
  std::string& data() {
    return out_;
  }

private:
  std::string out_;
};

class decoder {
public:
  explicit decoder(std::string_view in) : in_(in) {}
  bool u8(uint8_t& x);
  bool i64(int64_t& x);
  bool f64(double& x);
  bool str(std::string& x);
  bool at_end() const {
    return pos_ == in_.size();
  }

private:
  std::string_view in_;
  size_t pos_ = 0;
};

void put(encoder& e, const counters& x);
bool get(decoder& d, counters& x);

std::string encode(const history_point& x);
std::optional<history_point> decode_history_point(std::string_view x,
                                                  int64_t ts);
std::string encode(const database_point& x);
std::optional<database_point> decode_database_point(std::string_view x,
                                                    int64_t ts);
std::string encode(const metrics_snapshot& x);
std::optional<metrics_snapshot> decode_snapshot(std::string_view x);
std::string encode(const raw_sample& x);
std::optional<raw_sample> decode_raw_sample(std::string_view x);

/// Big-endian so keys sort by time.
std::string be64(int64_t x);
int64_t from_be64(std::string_view x);

} // namespace optischema::codec
