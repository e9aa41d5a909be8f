#pragma once

// Local requests- and tokens-per-minute limits as token buckets, so the
// engine stays under a shared quota instead of learning it from 429s.

#include <chrono>
#include <cstdint>
#include <mutex>

namespace optischema::llm::detail {

/// One bucket: `per_minute` units, refilled continuously, at most a
/// minute's worth banked. Reservations may drive the level below zero; the
/// debt is what later callers wait for, which serves them in order.
class token_bucket {
public:
  using clock = std::chrono::steady_clock;

  /// 0 = unlimited.
  token_bucket(int64_t per_minute, clock::time_point now);

  bool unlimited() const {
    return per_minute_ <= 0;
  }

  /// How long until `n` units are available (zero when they are now).
  clock::duration wait_for(int64_t n, clock::time_point now);

  /// Takes `n` units (the level may go negative).
  void take(int64_t n);

  /// Gives back `n` units (negative `n` takes more), up to the capacity.
  void give(int64_t n);

private:
  void refill(clock::time_point now);

  int64_t per_minute_;
  double level_;
  clock::time_point last_;
};

/// Both limits of one client. Thread-safe.
class rate_limiter {
public:
  using clock = token_bucket::clock;

  rate_limiter(int requests_per_minute, int tokens_per_minute);

  struct reservation {
    /// False when the wait would be longer than allowed; then nothing is
    /// reserved.
    bool granted = false;
    /// How long the caller must sleep before sending (or would have to).
    clock::duration wait{0};
  };

  /// Reserves one request and `tokens` tokens, unless the caller would have
  /// to wait longer than `max_wait` for them.
  reservation reserve(int64_t tokens, clock::duration max_wait);

  /// Corrects a reservation once the endpoint reported the real count:
  /// positive `delta` when more tokens were used than estimated.
  void correct_tokens(int64_t delta);

private:
  std::mutex mtx_;
  token_bucket requests_;
  token_bucket tokens_;
};

} // namespace optischema::llm::detail
