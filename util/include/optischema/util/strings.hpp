#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace optischema {

/// FNV-1a, 64 bits: a stable hash for ids and names that must not change
/// between builds or machines (std::hash may).
uint64_t fnv1a(std::string_view x, uint64_t h = 0xcbf29ce484222325ULL);

/// The elements of `xs` separated by `sep`.
std::string join(const std::vector<std::string>& xs, std::string_view sep);

/// The longest prefix of `x` of at most `max` bytes that does not end inside
/// a UTF-8 sequence: outside text echoed in a message is clipped with it, as
/// a WebSocket text frame of invalid UTF-8 makes browsers drop the socket.
std::string_view utf8_prefix(std::string_view x, size_t max);

/// Whether `x` is well-formed UTF-8 (RFC 3629: no overlong forms, no
/// surrogates, nothing above U+10FFFF).
bool valid_utf8(std::string_view x);

/// The length of the well-formed UTF-8 sequence at `x[i]` (i < x.size()),
/// by valid_utf8's rules; 0 when none starts there.
size_t utf8_sequence(std::string_view x, size_t i);

/// ASCII lowercase (identifiers, keywords, HTTP header names); bytes above
/// 127 are left alone, so UTF-8 text stays valid.
std::string lower(std::string_view x);

/// `x` without leading and trailing spaces, tabs and line breaks (error
/// texts from libpq end in a newline).
std::string trim(std::string_view x);

} // namespace optischema
