#include "server_static_files.hpp"
#include "optischema/util/strings.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <iterator>
#include <system_error>
#include <utility>

namespace optischema::web {

namespace fs = std::filesystem;

namespace {

bool is_file(const fs::path& x) {
  std::error_code err;
  return fs::is_regular_file(x, err);
}

bool is_dir(const fs::path& x) {
  std::error_code err;
  return fs::is_directory(x, err);
}

} // namespace

static_lookup find_static_file(const fs::path& root, std::string_view path) {
  // Strip every leading slash: `root / "/etc/passwd"` would discard `root`.
  while (!path.empty() && path.front() == '/')
    path.remove_prefix(1);
  auto base = root / fs::path{std::string{path}};
  if (path.empty() || path.back() == '/') {
    auto index = base / "index.html";
    if (is_file(index))
      return {static_lookup::kind::file, std::move(index)};
    return {};
  }
  if (is_file(base))
    return {static_lookup::kind::file, std::move(base)};
  auto html = base;
  html += ".html";
  if (is_file(html))
    return {static_lookup::kind::file, std::move(html)};
  if (is_dir(base) && is_file(base / "index.html"))
    return {static_lookup::kind::directory, {}};
  return {};
}

std::string_view mime_type(const fs::path& file) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 24>
    types{{
      {".html", "text/html; charset=utf-8"},
      {".htm", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".webmanifest", "application/manifest+json"},
      {".txt", "text/plain; charset=utf-8"},
      {".xml", "application/xml"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".webp", "image/webp"},
      {".avif", "image/avif"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".woff", "font/woff"},
      {".ttf", "font/ttf"},
      {".otf", "font/otf"},
      {".wasm", "application/wasm"},
      {".pdf", "application/pdf"},
    }};
  auto ext = lower(file.extension().string());
  for (auto& [key, type] : types)
    if (key == ext)
      return type;
  return "application/octet-stream";
}

bool is_immutable_asset(std::string_view path) {
  return path.starts_with("/_next/static/");
}

std::optional<std::string> read_file(const fs::path& file) {
  std::ifstream in{file, std::ios::binary};
  if (!in)
    return std::nullopt;
  std::string result{std::istreambuf_iterator<char>{in},
                     std::istreambuf_iterator<char>{}};
  if (in.bad())
    return std::nullopt;
  return result;
}

} // namespace optischema::web
