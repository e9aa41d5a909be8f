#pragma once

#include <string>
#include <string_view>

namespace optischema {

/// Replaces every secret in `text` by `***`: `password=...` pairs of libpq
/// key/value strings (quoted or not), the password of URIs
/// (`postgresql://user:secret@host`), `password=` URI parameters and bearer
/// tokens. Used on every log line and on every DSN the API shows.
std::string redact_secrets(std::string_view text);

} // namespace optischema
