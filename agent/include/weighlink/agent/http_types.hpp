#pragma once
// Socket-free HTTP request and response, so request handling is a plain function that tests call
// directly. Header names are lower-case. Plain data.

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace weighlink::agent {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, e.g. "/v1/outbox?state=pending"
  std::map<std::string, std::string> headers;
  std::string body;
  bool secure = false;  // it came over TLS (https://, wss://)

  [[nodiscard]] std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

}  // namespace weighlink::agent
