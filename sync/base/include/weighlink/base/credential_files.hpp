#pragma once
// Reading credentials from their files: the station token (the agent) and the PEM files of TLS
// (the agent and `serve`). Thread-safe (no state).

#include <string>

namespace weighlink::base {

// The station token from the first line of its file (trailing spaces and CR dropped). Empty
// with `error` set when the file cannot be read or the line is empty; the error says what to do.
[[nodiscard]] std::string read_token_file(const std::string& path, std::string* error);

// The whole of a PEM file (certificate, key or CA bundle) for TLS. Empty with `error` set when it
// cannot be read or holds no PEM block; the error names the file.
[[nodiscard]] std::string read_pem_file(const std::string& path, std::string* error);

}  // namespace weighlink::base
