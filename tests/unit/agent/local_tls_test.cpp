// The station CA and the server certificate (local_tls.hpp): the renewal decision with an
// injected clock, and the generated certificates read back with OpenSSL.
#include "weighlink/agent/local_tls.hpp"

#include <doctest/doctest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#ifndef _WIN32
#include <sys/stat.h>
#endif

#include <fstream>
#include <memory>

#include "weighlink/testing/process.hpp"

using namespace weighlink::agent;
using weighlink::testing::TempDir;
using namespace std::chrono_literals;

namespace {

constexpr auto kDay = std::chrono::hours(24);
const SystemTime kNow = SystemTime(std::chrono::seconds(1796630400));  // 2026-12-07T08:00:00Z

CertFacts good_leaf(SystemTime not_after) {
  CertFacts f;
  f.not_before = kNow - 10 * kDay;
  f.not_after = not_after;
  f.names = local_names();
  f.key_matches = true;
  f.signed_by_ca = true;
  return f;
}

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using Cert = std::unique_ptr<X509, X509Free>;

Cert load(const std::filesystem::path& file) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file(file.c_str(), "r"), BIO_free);
  REQUIRE(bio);
  Cert c(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  REQUIRE(c);
  return c;
}

std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> load_key(const std::filesystem::path& file) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file(file.c_str(), "r"), BIO_free);
  REQUIRE(bio);
  return {PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free};
}

// Verifies `leaf` against the CA file only, at `at`, for `host` (a DNS name) or `ip`; the
// X509_V_ code.
int verify(const std::filesystem::path& ca, X509* leaf, SystemTime at, const char* host,
           const char* ip) {
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
  auto ca_cert = load(ca);
  X509_STORE_add_cert(store.get(), ca_cert.get());
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                      X509_STORE_CTX_free);
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr);
  auto* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, std::chrono::system_clock::to_time_t(at));
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
  if (host) X509_VERIFY_PARAM_set1_host(param, host, 0);
  if (ip) X509_VERIFY_PARAM_set1_ip_asc(param, ip);
  if (X509_verify_cert(ctx.get()) == 1) return X509_V_OK;
  return X509_STORE_CTX_get_error(ctx.get());
}

std::string ext_text(X509* cert, int nid, bool* critical) {
  const int at = X509_get_ext_by_NID(cert, nid, -1);
  if (at < 0) return {};
  X509_EXTENSION* ext = X509_get_ext(cert, at);
  *critical = X509_EXTENSION_get_critical(ext) == 1;
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  X509V3_EXT_print(bio.get(), ext, 0, 0);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

#ifndef _WIN32
unsigned mode_of(const std::filesystem::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 0777;
}
#endif

}  // namespace

TEST_CASE("local tls: the certificate is renewed within renew_before of its expiry, not before") {
  CHECK_FALSE(decide_renewal(good_leaf(kNow + 31 * kDay), kNow, 30 * kDay).renew);
  const auto due = decide_renewal(good_leaf(kNow + 29 * kDay), kNow, 30 * kDay);
  CHECK(due.renew);
  CHECK(due.reason.find("expires in 29 days") != std::string::npos);
  // A wider window (renew_before_days: 60) renews the same certificate.
  CHECK(decide_renewal(good_leaf(kNow + 31 * kDay), kNow, 60 * kDay).renew);
  // The same certificate, a day before the window and a second into it.
  const auto leaf = good_leaf(kNow + 100 * kDay);
  CHECK_FALSE(decide_renewal(leaf, leaf.not_after - 30 * kDay - 1s, 30 * kDay).renew);
  CHECK(decide_renewal(leaf, leaf.not_after - 30 * kDay + 1s, 30 * kDay).renew);
  CHECK(decide_renewal(leaf, leaf.not_after + 1s, 30 * kDay).reason.find("expired") !=
        std::string::npos);
}

TEST_CASE("local tls: a missing, foreign, mismatched or incomplete certificate is renewed") {
  CHECK(decide_renewal(std::nullopt, kNow, 30 * kDay).renew);
  auto leaf = good_leaf(kNow + 300 * kDay);
  leaf.signed_by_ca = false;
  CHECK(decide_renewal(leaf, kNow, 30 * kDay).reason.find("not signed by the station CA") !=
        std::string::npos);
  leaf = good_leaf(kNow + 300 * kDay);
  leaf.key_matches = false;
  CHECK(decide_renewal(leaf, kNow, 30 * kDay).renew);
  leaf = good_leaf(kNow + 300 * kDay);
  leaf.names = {"DNS:localhost", "IP:127.0.0.1"};
  CHECK(decide_renewal(leaf, kNow, 30 * kDay).reason.find("IP:::1") != std::string::npos);
  leaf = good_leaf(kNow + 300 * kDay);
  leaf.not_before = kNow + kDay;  // the clock went back
  CHECK(decide_renewal(leaf, kNow, 30 * kDay).renew);
}

TEST_CASE("local tls: the CA is warned about under a year before expiry, refused once expired") {
  CertFacts ca;
  ca.is_ca = true;
  ca.key_matches = true;
  ca.not_before = kNow - kDay;
  ca.not_after = kNow + 366 * kDay;
  CHECK(check_ca(ca, kNow).health == CaHealth::ok);
  const auto warn = check_ca(ca, kNow + 2 * kDay);
  CHECK(warn.health == CaHealth::expiring);
  CHECK(warn.message.find("tls init --new-ca") != std::string::npos);
  CHECK(check_ca(ca, ca.not_after).health == CaHealth::expired);
  ca.key_matches = false;
  CHECK(check_ca(ca, kNow).health == CaHealth::invalid);
}

TEST_CASE("local tls: the generated CA is constrained to loopback and the certificate verifies") {
  TempDir dir;
  const TlsFiles files{dir.path()};
  create_ca(files, "wb-07", kNow).value();  // throws, with the message, on failure
  issue_server_cert(files, kNow, kLeafValidity).value();
#ifndef _WIN32
  CHECK(mode_of(files.ca_key()) == 0600);
  CHECK(mode_of(files.key()) == 0600);
  CHECK(mode_of(files.ca_cert()) == 0644);
#endif
  auto ca = load(files.ca_cert());
  auto leaf = load(files.cert());
  bool critical = false;

  // The CA: a CA for end certificates only, signing certificates, constrained to loopback.
  CHECK(X509_check_ca(ca.get()) == 1);
  CHECK(ext_text(ca.get(), NID_basic_constraints, &critical) == "CA:TRUE, pathlen:0");
  CHECK(critical);
  CHECK(ext_text(ca.get(), NID_key_usage, &critical) == "Certificate Sign, CRL Sign");
  const auto constraints = ext_text(ca.get(), NID_name_constraints, &critical);
  CHECK(critical);
  CHECK(constraints.find("DNS:localhost") != std::string::npos);
  CHECK(constraints.find("IP:127.0.0.0/255.0.0.0") != std::string::npos);
  CHECK(constraints.find("IP:0:0:0:0:0:0:0:1/FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF") !=
        std::string::npos);
  CHECK(constraints.find("Excluded") == std::string::npos);
  int days = 0;
  int secs = 0;
  ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(ca.get()), X509_get0_notAfter(ca.get()));
  CHECK(days >= 3650);

  // The certificate: ECDSA P-256, the three loopback names, a server certificate only, valid at
  // most 397 days.
  EVP_PKEY* pub = X509_get0_pubkey(leaf.get());
  CHECK(EVP_PKEY_get_base_id(pub) == EVP_PKEY_EC);
  char group[32] = {};
  EVP_PKEY_get_group_name(pub, group, sizeof group, nullptr);
  CHECK(std::string(group) == "prime256v1");
  CHECK(ext_text(leaf.get(), NID_subject_alt_name, &critical) ==
        "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1");
  CHECK(ext_text(leaf.get(), NID_key_usage, &critical) == "Digital Signature");
  CHECK(critical);
  CHECK(ext_text(leaf.get(), NID_ext_key_usage, &critical) == "TLS Web Server Authentication");
  CHECK(X509_check_ca(leaf.get()) == 0);
  ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(leaf.get()), X509_get0_notAfter(leaf.get()));
  CHECK(days * 86400 + secs <= 397 * 86400);
  CHECK(days >= 396);

  // It verifies against the CA file alone, for each loopback name, and for no other.
  CHECK(verify(files.ca_cert(), leaf.get(), kNow, "localhost", nullptr) == X509_V_OK);
  CHECK(verify(files.ca_cert(), leaf.get(), kNow, nullptr, "127.0.0.1") == X509_V_OK);
  CHECK(verify(files.ca_cert(), leaf.get(), kNow, nullptr, "::1") == X509_V_OK);
  CHECK(verify(files.ca_cert(), leaf.get(), kNow, "example.com", nullptr) ==
        X509_V_ERR_HOSTNAME_MISMATCH);
  CHECK(verify(files.ca_cert(), leaf.get(), kNow + kLeafValidity + kDay, "localhost", nullptr) ==
        X509_V_ERR_CERT_HAS_EXPIRED);

  // What read_cert() says of them.
  auto facts = read_cert(files.cert(), files.key(), files.ca_cert());
  REQUIRE(facts.has_value());
  CHECK(facts->names == local_names());
  CHECK(facts->signed_by_ca);
  CHECK(facts->key_matches);
  CHECK(facts->subject.find("CN=localhost") != std::string::npos);
  CHECK(facts->sha256.size() == 32 * 3 - 1);
  CHECK(facts->not_after - facts->not_before <= kLeafValidity);
  auto ca_facts = read_cert(files.ca_cert(), files.ca_key(), {});
  REQUIRE(ca_facts.has_value());
  CHECK(ca_facts->is_ca);
  CHECK(ca_facts->subject.find("station wb-07 on ") != std::string::npos);
  CHECK_FALSE(read_cert(files.cert(), files.ca_key(), {})->key_matches);
}

TEST_CASE("local tls: a certificate the CA signs for another name fails its name constraints") {
  TempDir dir;
  const TlsFiles files{dir.path()};
  REQUIRE(create_ca(files, "st-1", kNow).has_value());
  REQUIRE(issue_server_cert(files, kNow, kLeafValidity).has_value());
  // Were the CA key stolen: a certificate for example.com, re-signed with it.
  auto leaf = load(files.cert());
  auto ca = load(files.ca_cert());
  auto ca_key = load_key(files.ca_key());
  REQUIRE(ca_key);
  const int at = X509_get_ext_by_NID(leaf.get(), NID_subject_alt_name, -1);
  X509_EXTENSION_free(X509_delete_ext(leaf.get(), at));  // the caller owns what it removes
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, ca.get(), leaf.get(), nullptr, nullptr, 0);
  X509_EXTENSION* san =
      X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, "DNS:example.com,IP:10.0.0.1");
  REQUIRE(san);
  X509_add_ext(leaf.get(), san, -1);
  X509_EXTENSION_free(san);
  REQUIRE(X509_sign(leaf.get(), ca_key.get(), EVP_sha256()) > 0);
  CHECK(verify(files.ca_cert(), leaf.get(), kNow, "example.com", nullptr) ==
        X509_V_ERR_PERMITTED_VIOLATION);
  CHECK(verify(files.ca_cert(), leaf.get(), kNow, nullptr, "10.0.0.1") ==
        X509_V_ERR_PERMITTED_VIOLATION);
}

TEST_CASE("local tls: ensure keeps a valid CA and certificate, renews inside the window") {
  TempDir dir;
  const TlsFiles files{dir / "tls"};
  EnsureOptions options;
  options.station_id = "st-1";
  auto first = ensure_local_tls(files, options, kNow);
  REQUIRE_MESSAGE(first.state, first.error);
  CHECK(first.state->created_ca);
  CHECK(first.state->renewed);

  auto again = ensure_local_tls(files, options, kNow + kDay);
  REQUIRE(again.state);
  CHECK_FALSE(again.state->created_ca);
  CHECK_FALSE(again.state->renewed);
  CHECK(again.state->leaf.sha256 == first.state->leaf.sha256);

  // 29 days before the certificate expires: a new one from the same CA.
  const auto late = first.state->leaf.not_after - 29 * kDay;
  auto renewed = ensure_local_tls(files, options, late);
  REQUIRE(renewed.state);
  CHECK(renewed.state->renewed);
  CHECK(renewed.state->renew_reason.find("expires in") != std::string::npos);
  CHECK(renewed.state->ca.sha256 == first.state->ca.sha256);
  CHECK(renewed.state->leaf.sha256 != first.state->leaf.sha256);
  CHECK(renewed.state->leaf.not_after > late + 300 * kDay);

  // A new CA on request: the certificate follows it.
  options.new_ca = true;
  auto rotated = ensure_local_tls(files, options, late);
  REQUIRE(rotated.state);
  CHECK(rotated.state->created_ca);
  CHECK(rotated.state->ca.sha256 != first.state->ca.sha256);
  CHECK(rotated.state->renewed);
  CHECK(rotated.state->leaf.signed_by_ca);
}

#ifndef _WIN32
TEST_CASE("local tls: a CA key readable by others is refused, naming the file and the chmod") {
  TempDir dir;
  const TlsFiles files{dir.path()};
  EnsureOptions options;
  REQUIRE(ensure_local_tls(files, options, kNow).state);
  std::filesystem::permissions(files.ca_key(), std::filesystem::perms::others_read,
                               std::filesystem::perm_options::add);
  auto refused = ensure_local_tls(files, options, kNow);
  CHECK_FALSE(refused.state);
  CHECK(refused.exit_code == 2);
  CHECK(refused.error.find(files.ca_key().string()) != std::string::npos);
  CHECK(refused.error.find("chmod 600") != std::string::npos);
  options.create_missing_ca = false;
  TempDir empty;
  auto none = ensure_local_tls(TlsFiles{empty.path()}, options, kNow);
  CHECK(none.exit_code == 1);
  CHECK(none.error.find("tls init") != std::string::npos);
}
#endif

TEST_CASE("local tls: the tls keys load, and a bad one is named with what to do") {
  TempDir dir;
  auto load = [&](const std::string& yaml) {
    std::ofstream(dir / "c.yaml", std::ios::trunc) << yaml;
    return load_config_file(dir / "c.yaml");
  };
  auto error_of = [&](const std::string& yaml) -> std::string {
    try {
      (void)load(yaml);
    } catch (const std::exception& e) {
      return e.what();
    }
    return {};
  };
  auto cfg = load(
      "data_dir: /srv/wl\ntls: {listen: '127.0.0.1:9443', renew_before_days: 45, "
      "check_interval_s: 3600}\ncompat: {truconnect: {wss_listen: '127.0.0.1:4032', "
      "https_listen: '[::1]:4033'}}\n");
  CHECK(cfg.tls.enabled);  // the section turns it on
  CHECK(cfg.tls.port == 9443);
  CHECK(cfg.tls.renew_before == std::chrono::hours(24 * 45));
  CHECK(cfg.tls.check_interval == std::chrono::seconds(3600));
  CHECK(tls_files(cfg).dir == std::filesystem::path("/srv/wl/tls"));
  CHECK(cfg.truconnect.wss_port == 4032);
  CHECK(cfg.truconnect.https_host == "::1");
  CHECK_FALSE(load("tls: {enabled: false}\n").tls.enabled);
  CHECK(tls_files(load("tls: {dir: /etc/wl-tls}\n")).dir == std::filesystem::path("/etc/wl-tls"));

  CHECK(error_of("tls: {renew_before_days: 0}\n").find("tls.renew_before_days") !=
        std::string::npos);
  CHECK(error_of("tls: {renew_before_days: 398}\n").find("out of range 1..200") !=
        std::string::npos);
  CHECK(error_of("tls: {port: 8421}\n").find("tls.port: unknown key") != std::string::npos);
  CHECK(error_of("tls: {listen: 'localhost'}\n").find("tls.listen") != std::string::npos);
  CHECK(error_of("tls: yes\n").find("tls: expected a mapping") != std::string::npos);

  // Beyond loopback only with allow_remote, like every listen address.
  auto remote = load("tls: {listen: '0.0.0.0:8421'}\n");
  auto problem = validate_config(remote);
  REQUIRE(problem);
  CHECK(problem->find("tls.listen: 0.0.0.0:8421") != std::string::npos);
}
