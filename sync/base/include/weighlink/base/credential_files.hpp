#pragma once
// Reading credentials from their files: the station token (the agent) and the PEM files of TLS
// (the agent and `serve`). Thread-safe (no state).

#include <string>

#include "weighlink/base/error.hpp"

namespace weighlink::base {

// The station token from the first line of its file (trailing spaces and CR dropped), or the Error
// (the errno of the failed open; invalid_argument for an empty line) that says what to do.
[[nodiscard]] Expected<std::string> read_token_file(const std::string& path);

// The whole of a PEM file (certificate, key or CA bundle) for TLS, or the Error naming the file
// (the errno of the failed read; invalid_argument when it holds no PEM block).
[[nodiscard]] Expected<std::string> read_pem_file(const std::string& path);

}  // namespace weighlink::base
