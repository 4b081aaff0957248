#include "tls/local_tls_status.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "weighlink/scale/reading.hpp"

namespace weighlink::agent {

boost::json::object LocalTls::status_json() const {
  auto cert = [](const CertFacts& f) {
    boost::json::array names;
    for (const auto& n : f.names) names.emplace_back(n);
    return boost::json::object{{"subject", f.subject},
                               {"not_after", scale::format_timestamp(f.not_after)},
                               {"sha256", f.sha256},
                               {"names", std::move(names)}};
  };
  auto ca = cert(state.ca);
  ca.erase("names");
  ca["health"] = to_string(state.ca_check.health);
  ca["warning"] = state.ca_check.message.empty() ? boost::json::value(nullptr)
                                                 : boost::json::value(state.ca_check.message);
  boost::json::object o{{"enabled", true},
                        {"dir", files.dir.string()},
                        {"certificate", cert(state.leaf)},
                        {"ca", std::move(ca)},
                        {"last_check_error", last_error}};
  for (const auto& [k, v] : addresses) o[k] = v;
  return o;
}

void LocalTls::log(const LocalTlsState& s) const {
  if (s.created_ca) {
    spdlog::warn(
        "created a new station CA in {} (sha256 {}): browsers trust https://127.0.0.1 only once "
        "it is in the trust store (the installers put it there; else see docs/local-tls.md)",
        files.ca_cert().string(), s.ca.sha256);
  }
  if (s.renewed) {
    spdlog::info("renewed the local server certificate ({}): now valid until {}", s.renew_reason,
                 scale::format_timestamp(s.leaf.not_after));
  }
  if (!s.ca_check.message.empty()) spdlog::warn("tls: {}", s.ca_check.message);
}

}  // namespace weighlink::agent
