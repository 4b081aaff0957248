#pragma once
// The HttpResult of a Beast response, for the plain and the TLS clients (http_client.cpp,
// tls_client.cpp).

#include <boost/beast/http.hpp>
#include <cctype>

#include "weighlink/testing/http_client.hpp"

namespace weighlink::testing::detail {

inline void fill_result(const boost::beast::http::response<boost::beast::http::string_body>& res,
                        HttpResult& out) {
  out.status = static_cast<int>(res.result_int());
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(f.value());
  }
  out.body = res.body();
}

}  // namespace weighlink::testing::detail
