#pragma once
// The station's local CA and the server certificate of https:// and wss:// on loopback
// (docs/local-tls.md): where the files live, what a certificate file says, when the server
// certificate is renewed (pure decisions, the time as an argument), and the OpenSSL adapter that
// creates and reads them (local_tls_openssl.cpp).
// Threading: plain functions; the files are written atomically (temp file + rename), so a reader
// in another process sees the old file or the new one.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "weighlink/agent/config.hpp"
#include "weighlink/base/error.hpp"

namespace weighlink::agent {

using SystemTime = std::chrono::system_clock::time_point;

// The files of the station CA and the server certificate in one directory.
struct TlsFiles {
  std::filesystem::path dir;
  [[nodiscard]] std::filesystem::path ca_cert() const { return dir / "ca.crt"; }
  [[nodiscard]] std::filesystem::path ca_key() const { return dir / "ca.key"; }
  [[nodiscard]] std::filesystem::path cert() const { return dir / "server.crt"; }
  [[nodiscard]] std::filesystem::path key() const { return dir / "server.key"; }
};

// `tls.dir`, or <data_dir>/tls.
[[nodiscard]] TlsFiles tls_files(const AgentConfig& config);

// The names the server certificate must carry (subjectAltName): what browsers use for the agent.
inline const std::vector<std::string>& local_names() {
  static const std::vector<std::string> names{"DNS:localhost", "IP:127.0.0.1", "IP:::1"};
  return names;
}

// The common name of every station CA (the installers find it by this name).
constexpr const char* kCaCommonName = "weighlink local CA";

// The longest validity of a server certificate (Apple's and the browsers' 398-day limit, with a
// day of margin), and of the CA.
constexpr auto kLeafValidity = std::chrono::hours(24 * 397);
constexpr auto kCaValidity = std::chrono::hours(24 * 3652);
// Under this much left the CA is warned about, in the log and /v1/status.
constexpr auto kCaWarnBefore = std::chrono::hours(24 * 365);

// What a certificate file says, as the decisions need it.
struct CertFacts {
  std::string subject;  // RFC 2253, e.g. "CN=localhost,O=weighlink"
  std::string issuer;
  std::string serial;  // hex
  std::string sha256;  // fingerprint of the DER, "AB:CD:..." as `openssl x509 -fingerprint`
  SystemTime not_before{};
  SystemTime not_after{};
  std::vector<std::string> names;  // subjectAltName entries, "DNS:localhost", "IP:127.0.0.1"
  bool is_ca = false;              // basicConstraints CA:TRUE
  bool key_matches = false;        // the private key file beside it belongs to it
  bool signed_by_ca = false;       // a leaf: issued and signed by the station CA it was read with
};

// Whether the server certificate must be renewed now, and why (one line for the log).
struct RenewDecision {
  bool renew = false;
  std::string reason;
};

// Renew when the certificate is missing or unreadable (nullopt), not signed by the current CA,
// not matched by its key, not yet valid, without one of local_names(), or when less than
// `renew_before` of its validity is left at `now`.
[[nodiscard]] RenewDecision decide_renewal(const std::optional<CertFacts>& leaf, SystemTime now,
                                           std::chrono::hours renew_before);

enum class CaHealth { ok, expiring, expired, not_yet_valid, invalid };

struct CaCheck {
  CaHealth health = CaHealth::ok;
  std::string message;  // empty when ok; otherwise what is wrong and what to do
};

// The CA's state at `now`: expiring under `warn_before` left (a warning: it keeps serving), expired
// or not yet valid (no certificate it signs is trusted), or invalid (not a CA, key mismatch).
[[nodiscard]] CaCheck check_ca(const CertFacts& ca, SystemTime now,
                               std::chrono::hours warn_before = kCaWarnBefore);

[[nodiscard]] const char* to_string(CaHealth health);

// --- OpenSSL adapter (local_tls_openssl.cpp) ---

// Creates a new station CA (ECDSA P-256 key, self-signed, valid kCaValidity from `now`, name
// constraints limiting it to localhost, 127.0.0.0/8 and ::1) in files.dir, replacing one there.
// `station_id` and the host name go into its subject so that a trust store tells stations apart.
// The Error: the errno of a file that cannot be written, io_error when OpenSSL fails.
[[nodiscard]] base::Expected<void> create_ca(const TlsFiles& files, const std::string& station_id,
                                             SystemTime now);

// Issues a new server certificate for local_names() (ECDSA P-256, `validity` from `now`, at most
// kLeafValidity) signed by the CA in files.dir, replacing the one there.
[[nodiscard]] base::Expected<void> issue_server_cert(const TlsFiles& files, SystemTime now,
                                                     std::chrono::hours validity);

// Reads a certificate and checks its private key `key` (empty: not checked) and, for a leaf, its
// signature against the CA certificate `ca` (empty: not checked). The Error when the certificate
// file is missing or unreadable (its errno) or not a PEM certificate (invalid_argument).
[[nodiscard]] base::Expected<CertFacts> read_cert(const std::filesystem::path& cert,
                                                  const std::filesystem::path& key,
                                                  const std::filesystem::path& ca);

// What ensure_local_tls() found and did.
struct LocalTlsState {
  CertFacts ca;
  CertFacts leaf;
  CaCheck ca_check;
  bool created_ca = false;
  bool renewed = false;
  std::string renew_reason;  // why the certificate was renewed
};

struct EnsureOptions {
  std::string station_id;
  std::chrono::hours renew_before{24 * 30};
  bool create_missing_ca = true;  // false: a missing CA is an error
  bool new_ca = false;            // replace the CA (and so the certificate) even when valid
  bool force_renew = false;       // a new certificate even when the current one is fine
};

// The outcome of ensure_local_tls(): the state, or an error and the exit code it means (1 could
// not run, 2 a key file open to others: fix the configuration).
struct EnsureResult {
  std::optional<LocalTlsState> state;
  std::string error;
  int exit_code = 0;
};

// Makes sure files.dir holds a valid CA and a server certificate that needs no renewal at `now`:
// creates the directory (0700) and the CA when missing, keeps a valid CA, refuses one that
// expired or whose key is open to other users, renews the certificate when decide_renewal() says.
[[nodiscard]] EnsureResult ensure_local_tls(const TlsFiles& files, const EnsureOptions& options,
                                            SystemTime now);

}  // namespace weighlink::agent
