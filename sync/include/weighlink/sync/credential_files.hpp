#pragma once
// Reading the credentials the station uses to reach the backend from their files: the station
// token and the PEM files of TLS. Thread-safe (no state).

#include <string>

namespace weighlink::sync {

// The station token from the first line of its file (trailing spaces and CR dropped). Empty
// with `error` set when the file cannot be read or the line is empty; the error says what to do.
[[nodiscard]] std::string read_token_file(const std::string& path, std::string* error);

// The whole of a PEM file (certificate, key or CA bundle) for TLS. Empty with `error` set when it
// cannot be read or holds no PEM block; the error names the file.
[[nodiscard]] std::string read_pem_file(const std::string& path, std::string* error);

}  // namespace weighlink::sync
