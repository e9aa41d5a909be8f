#pragma once

// Maps request paths onto the dashboard's static export (Next.js with
// `trailingSlash: true`), and file names onto content types.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace optischema::web {

/// What a request path resolves to inside the static directory.
struct static_lookup {
  enum class kind {
    /// `file` names a regular file to serve.
    file,
    /// The path names a directory with an index.html; the client should
    /// retry with a trailing slash so relative links resolve.
    directory,
    /// Nothing to serve.
    missing,
  };
  kind what = kind::missing;
  std::filesystem::path file;
};

/// Resolves a decoded `path` (which must start with '/' and contain no ".."
/// segment): "/" -> index.html, "/x/" -> x/index.html, "/x" -> x, then
/// x.html.
static_lookup find_static_file(const std::filesystem::path& root,
                               std::string_view path);

/// The Content-Type for `file`, by extension; application/octet-stream when
/// unknown.
std::string_view mime_type(const std::filesystem::path& file);

/// True for content-hashed build output that never changes under its name.
bool is_immutable_asset(std::string_view path);

/// Reads a whole file; nullopt if it cannot be read.
std::optional<std::string> read_file(const std::filesystem::path& file);

} // namespace optischema::web
