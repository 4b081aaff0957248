#include "weighlink/sync/credential_files.hpp"

#include <fstream>
#include <sstream>

namespace weighlink::sync {

std::string read_token_file(const std::string& path, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = "cannot read the station token file " + path +
             "; create it with the token printed by 'weighlink-backend station add'";
    return {};
  }
  std::string token;
  std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty()) {
    *error = "the station token file " + path +
             " is empty; write the token printed by 'weighlink-backend station add' (or "
             "'station rotate-token') into it";
  }
  return token;
}

std::string read_pem_file(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in || text.str().find("-----BEGIN ") == std::string::npos) {
    *error = "cannot read a PEM file at " + path;
    return {};
  }
  return std::move(text).str();
}

}  // namespace weighlink::sync
