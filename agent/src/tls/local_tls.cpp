// The local TLS decisions (pure) and ensure_local_tls(), which applies them to the files
// (local_tls.hpp).
#include "weighlink/agent/local_tls.hpp"

#include <algorithm>
#include <system_error>

#include "weighlink/scale/reading.hpp"

namespace weighlink::agent {
namespace {

std::string days_text(std::chrono::system_clock::duration d) {
  const auto days = std::chrono::duration_cast<std::chrono::hours>(d).count() / 24;
  return std::to_string(days) + (days == 1 ? " day" : " days");
}

}  // namespace

TlsFiles tls_files(const AgentConfig& config) {
  return {config.tls.dir.empty() ? config.data_dir / "tls" : config.tls.dir};
}

RenewDecision decide_renewal(const std::optional<CertFacts>& leaf, SystemTime now,
                             std::chrono::hours renew_before) {
  if (!leaf) return {true, "there is no readable server certificate"};
  if (!leaf->signed_by_ca) return {true, "the server certificate is not signed by the station CA"};
  if (!leaf->key_matches) return {true, "the server certificate does not match its private key"};
  if (leaf->is_ca) return {true, "the server certificate is a CA certificate"};
  for (const auto& name : local_names()) {
    if (std::find(leaf->names.begin(), leaf->names.end(), name) == leaf->names.end()) {
      return {true, "the server certificate does not name " + name};
    }
  }
  if (now < leaf->not_before) {
    return {true, "the server certificate is not valid before " +
                      scale::format_timestamp(leaf->not_before) + " (was the clock set back?)"};
  }
  if (now >= leaf->not_after) {
    return {true, "the server certificate expired on " + scale::format_timestamp(leaf->not_after)};
  }
  if (leaf->not_after - now < renew_before) {
    return {true, "the server certificate expires in " + days_text(leaf->not_after - now) +
                      ", on " + scale::format_timestamp(leaf->not_after) + " (renewed " +
                      days_text(renew_before) + " before, tls.renew_before_days)"};
  }
  return {false, {}};
}

CaCheck check_ca(const CertFacts& ca, SystemTime now, std::chrono::hours warn_before) {
  const std::string replace =
      "; replace it with: weighlink-agent tls init --new-ca, then trust the new CA "
      "(docs/local-tls.md, \"Rotating the CA\")";
  if (!ca.is_ca) return {CaHealth::invalid, "the station CA certificate is not a CA" + replace};
  if (!ca.key_matches) {
    return {CaHealth::invalid,
            "the station CA certificate does not match its private key" + replace};
  }
  if (now < ca.not_before) {
    return {CaHealth::not_yet_valid, "the station CA is not valid before " +
                                         scale::format_timestamp(ca.not_before) +
                                         "; check the system clock"};
  }
  if (now >= ca.not_after) {
    return {CaHealth::expired,
            "the station CA expired on " + scale::format_timestamp(ca.not_after) + replace};
  }
  if (ca.not_after - now < warn_before) {
    return {CaHealth::expiring, "the station CA expires in " + days_text(ca.not_after - now) +
                                    ", on " + scale::format_timestamp(ca.not_after) + replace};
  }
  return {CaHealth::ok, {}};
}

const char* to_string(CaHealth health) {
  switch (health) {
    case CaHealth::ok:
      return "ok";
    case CaHealth::expiring:
      return "expiring";
    case CaHealth::expired:
      return "expired";
    case CaHealth::not_yet_valid:
      return "not_yet_valid";
    case CaHealth::invalid:
      return "invalid";
  }
  return "invalid";
}

EnsureResult ensure_local_tls(const TlsFiles& files, const EnsureOptions& options, SystemTime now) {
  EnsureResult out;
  auto failed = [&out](int code, std::string message) {
    out.exit_code = code;
    out.error = std::move(message);
    return out;
  };
  for (const auto& [file, what] :
       {std::pair{files.ca_key(), "the station CA's private key"},
        std::pair{files.key(), "the local server certificate's private key"}}) {
    if (auto problem = secret_file_problem(file, what)) return failed(2, *problem);
  }
  std::error_code ec;
  if (!std::filesystem::exists(files.dir, ec)) {
    std::filesystem::create_directories(files.dir, ec);
    if (ec) {
      return failed(1, "cannot create the TLS directory " + files.dir.string() + ": " +
                           ec.message() + " (tls.dir; it must be writable by the agent's user)");
    }
    std::filesystem::permissions(files.dir, std::filesystem::perms::owner_all, ec);
  }
  LocalTlsState state;
  const bool have_ca =
      std::filesystem::exists(files.ca_cert(), ec) || std::filesystem::exists(files.ca_key(), ec);
  if (!have_ca && !options.create_missing_ca) {
    return failed(1, "no station CA in " + files.dir.string() +
                         "; create one with: weighlink-agent tls init");
  }
  if (!have_ca || options.new_ca) {
    if (auto created = create_ca(files, options.station_id, now); !created) {
      return failed(1, created.error().message);
    }
    state.created_ca = true;
  }
  auto ca = read_cert(files.ca_cert(), files.ca_key(), {});
  if (!ca) {
    return failed(1, ca.error().message +
                         "; the files must belong to the user the agent runs as (Debian: "
                         "weighlink), or replace the CA with: weighlink-agent tls init --new-ca");
  }
  state.ca = *ca;
  state.ca_check = check_ca(*ca, now);
  if (state.ca_check.health != CaHealth::ok && state.ca_check.health != CaHealth::expiring) {
    return failed(1, files.ca_cert().string() + ": " + state.ca_check.message);
  }
  auto leaf = read_cert(files.cert(), files.key(), files.ca_cert());
  auto decision = decide_renewal(leaf ? std::optional<CertFacts>(*leaf) : std::nullopt, now,
                                 options.renew_before);
  if (options.force_renew && !decision.renew) decision = {true, "a renewal was asked for"};
  if (decision.renew) {
    if (auto issued = issue_server_cert(files, now, kLeafValidity); !issued) {
      return failed(1, issued.error().message);
    }
    leaf = read_cert(files.cert(), files.key(), files.ca_cert());
    if (!leaf) return failed(1, leaf.error().message);
    state.renewed = true;
    state.renew_reason = decision.reason;
  }
  state.leaf = *leaf;
  out.state = std::move(state);
  return out;
}

}  // namespace weighlink::agent
