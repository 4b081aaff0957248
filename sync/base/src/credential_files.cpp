#include "weighlink/base/credential_files.hpp"

#include <cerrno>
#include <fstream>
#include <sstream>

namespace weighlink::base {

Expected<std::string> read_token_file(const std::string& path) {
  errno = 0;
  std::ifstream in(path);
  if (!in) {
    return errno_error(errno, "cannot read the station token file " + path +
                                  "; create it with the token printed by 'weighlink-backend "
                                  "station add'");
  }
  std::string token;
  std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty()) {
    return invalid_argument("the station token file " + path +
                            " is empty; write the token printed by 'weighlink-backend station "
                            "add' (or 'station rotate-token') into it");
  }
  return token;
}

Expected<std::string> read_pem_file(const std::string& path) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  const int open_errno = in ? 0 : errno;
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) return errno_error(open_errno, "cannot read a PEM file at " + path);
  if (text.str().find("-----BEGIN ") == std::string::npos) {
    return invalid_argument("cannot read a PEM file at " + path);
  }
  return std::move(text).str();
}

}  // namespace weighlink::base
