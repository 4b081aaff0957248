// weighlink-agent tls ... (tls_tool.hpp).
#include "weighlink/agent/tls_tool.hpp"

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "weighlink/agent/local_tls.hpp"
#include "weighlink/scale/reading.hpp"

namespace weighlink::agent {
namespace {

namespace json = boost::json;

constexpr int kOk = 0;
constexpr int kFailed = 1;

std::string until(const CertFacts& f) { return scale::format_timestamp(f.not_after); }

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

json::object cert_json(const std::filesystem::path& file, const CertFacts& f) {
  json::array names;
  for (const auto& n : f.names) names.emplace_back(n);
  return {{"file", file.string()},
          {"subject", f.subject},
          {"issuer", f.issuer},
          {"serial", f.serial},
          {"sha256", f.sha256},
          {"not_before", scale::format_timestamp(f.not_before)},
          {"not_after", scale::format_timestamp(f.not_after)},
          {"names", std::move(names)}};
}

int init_or_renew(const AgentConfig& config, const TlsCommand& command, std::ostream& out,
                  std::ostream& err) {
  const auto files = tls_files(config);
  EnsureOptions options;
  options.station_id = config.station_id;
  options.renew_before = config.tls.renew_before;
  options.create_missing_ca = command.action == "init";
  options.new_ca = command.new_ca;
  options.force_renew = command.action == "renew";
  auto result = ensure_local_tls(files, options, std::chrono::system_clock::now());
  if (!result.state) {
    err << "weighlink-agent tls " << command.action << ": " << result.error << "\n";
    return result.exit_code;
  }
  const auto& s = *result.state;
  out << "station CA: " << (s.created_ca ? "created " : "kept ") << files.ca_cert().string()
      << " (valid until " << until(s.ca) << ", sha256 " << s.ca.sha256 << ")\n";
  out << "server certificate: " << (s.renewed ? "issued " : "kept ") << files.cert().string()
      << " for " << joined(s.leaf.names) << " (valid until " << until(s.leaf) << ")"
      << (s.renewed ? ": " + s.renew_reason : "") << "\n";
  if (s.created_ca) {
    out << "trust the CA on this machine (the installers do): see docs/local-tls.md; "
           "weighlink-agent tls export-ca prints it\n";
  }
  if (!s.ca_check.message.empty()) err << "weighlink-agent tls: " << s.ca_check.message << "\n";
  return kOk;
}

int status(const AgentConfig& config, const TlsCommand& command, std::ostream& out,
           std::ostream& err) {
  const auto files = tls_files(config);
  auto ca = read_cert(files.ca_cert(), files.ca_key(), {});
  if (!ca) {
    err << "weighlink-agent tls status: no station CA in " << files.dir.string() << " ("
        << ca.error().message << "); create one with: weighlink-agent tls init\n";
    return kFailed;
  }
  const auto now = std::chrono::system_clock::now();
  const auto ca_check = check_ca(*ca, now);
  auto leaf = read_cert(files.cert(), files.key(), files.ca_cert());
  const auto decision = decide_renewal(leaf ? std::optional<CertFacts>(*leaf) : std::nullopt, now,
                                       config.tls.renew_before);
  const auto renew_days = config.tls.renew_before.count() / 24;
  if (command.json) {
    auto ca_o = cert_json(files.ca_cert(), *ca);
    ca_o.erase("names");
    ca_o["health"] = to_string(ca_check.health);
    ca_o["message"] = ca_check.message;
    json::object o{{"dir", files.dir.string()},
                   {"enabled", config.tls.enabled},
                   {"ca", std::move(ca_o)},
                   {"renew_before_days", renew_days}};
    if (leaf) {
      auto l = cert_json(files.cert(), *leaf);
      l["signed_by_ca"] = leaf->signed_by_ca;
      l["renew"] = decision.renew;
      l["reason"] = decision.reason;
      o["certificate"] = std::move(l);
    } else {
      o["certificate"] = json::object{
          {"file", files.cert().string()}, {"renew", true}, {"reason", decision.reason}};
    }
    out << json::serialize(o) << "\n";
  } else {
    out << "directory     " << files.dir.string() << (config.tls.enabled ? "" : " (tls is off)")
        << "\n"
        << "station CA    " << files.ca_cert().string() << "\n"
        << "  subject     " << ca->subject << "\n"
        << "  valid until " << until(*ca) << " (" << to_string(ca_check.health) << ")\n"
        << "  sha256      " << ca->sha256 << "\n";
    if (!ca_check.message.empty()) out << "  attention   " << ca_check.message << "\n";
    out << "certificate   " << files.cert().string() << "\n";
    if (leaf) {
      out << "  subject     " << leaf->subject << "\n"
          << "  names       " << joined(leaf->names) << "\n"
          << "  valid until " << until(*leaf) << "\n"
          << "  sha256      " << leaf->sha256 << "\n";
    }
    out << "  renewal     "
        << (decision.renew
                ? "due: " + decision.reason +
                      " (the agent renews it at its next check, or run: "
                      "weighlink-agent tls renew)"
                : "not due (renewed " + std::to_string(renew_days) + " days before expiry)")
        << "\n";
  }
  // A CA that no longer vouches for anything fails the check; a certificate due for renewal
  // does not (the agent renews it itself).
  return ca_check.health == CaHealth::ok || ca_check.health == CaHealth::expiring ? kOk : kFailed;
}

int export_ca(const AgentConfig& config, const TlsCommand& command, std::ostream& out,
              std::ostream& err) {
  const auto files = tls_files(config);
  if (auto ca = read_cert(files.ca_cert(), {}, {}); !ca) {
    err << "weighlink-agent tls export-ca: " << ca.error().message
        << "; create the CA with: weighlink-agent tls init\n";
    return kFailed;
  }
  std::ifstream in(files.ca_cert(), std::ios::binary);
  std::ostringstream pem;
  pem << in.rdbuf();
  if (command.out_file.empty()) {
    out << pem.str();
    return kOk;
  }
  std::ofstream file(command.out_file, std::ios::binary | std::ios::trunc);
  file << pem.str();
  file.close();
  if (!file) {
    err << "weighlink-agent tls export-ca: cannot write " << command.out_file
        << "; check the directory exists and is writable\n";
    return kFailed;
  }
  return kOk;
}

}  // namespace

int run_tls_command(const AgentConfig& config, const TlsCommand& command, std::ostream& out,
                    std::ostream& err) {
  if (command.action == "init" || command.action == "renew") {
    return init_or_renew(config, command, out, err);
  }
  if (command.action == "status") return status(config, command, out, err);
  return export_ca(config, command, out, err);
}

}  // namespace weighlink::agent
