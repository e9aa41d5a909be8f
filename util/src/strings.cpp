#include "optischema/util/strings.hpp"

namespace optischema {

std::string lower(std::string_view x) {
  std::string out{x};
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string trim(std::string_view x) {
  auto b = x.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos)
    return {};
  auto e = x.find_last_not_of(" \t\r\n");
  return std::string{x.substr(b, e - b + 1)};
}

uint64_t fnv1a(std::string_view x, uint64_t h) {
  for (unsigned char c : x)
    h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

std::string join(const std::vector<std::string>& xs, std::string_view sep) {
  std::string out;
  for (auto& x : xs) {
    if (!out.empty())
      out += sep;
    out += x;
  }
  return out;
}

std::string_view utf8_prefix(std::string_view x, size_t max) {
  if (x.size() <= max)
    return x;
  // x[cut] is the first byte left out: while it continues a sequence, that
  // sequence straddles the cut and goes entirely.
  auto cut = max;
  while (cut > 0 && (static_cast<unsigned char>(x[cut]) & 0xc0) == 0x80)
    --cut;
  return x.substr(0, cut);
}

size_t utf8_sequence(std::string_view x, size_t i) {
  auto c = static_cast<unsigned char>(x[i]);
  if (c < 0x80)
    return 1;
  size_t n = 0; // continuation bytes
  uint32_t cp = 0;
  if ((c & 0xe0) == 0xc0) {
    n = 1;
    cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    n = 2;
    cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    n = 3;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (x.size() - i <= n)
    return 0;
  for (size_t k = 1; k <= n; ++k) {
    auto d = static_cast<unsigned char>(x[i + k]);
    if ((d & 0xc0) != 0x80)
      return 0;
    cp = (cp << 6) | (d & 0x3f);
  }
  static constexpr uint32_t min_of[] = {0, 0x80, 0x800, 0x10000};
  if (cp < min_of[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n + 1;
}

bool valid_utf8(std::string_view x) {
  for (size_t i = 0; i < x.size();) {
    auto n = utf8_sequence(x, i);
    if (n == 0)
      return false;
    i += n;
  }
  return true;
}

} // namespace optischema
