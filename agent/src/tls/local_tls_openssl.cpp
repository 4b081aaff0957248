// The OpenSSL adapter of local_tls.hpp: creates the station CA and the server certificate, and
// reads certificate files back into CertFacts.
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#ifndef _WIN32
#include <fcntl.h>
#include <unistd.h>
#else
#include <winsock2.h>
#endif

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <memory>

#include "weighlink/agent/local_tls.hpp"
#include "weighlink/scale/reading.hpp"

namespace weighlink::agent {
namespace {

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Name = std::unique_ptr<X509_NAME, Deleter<X509_NAME, X509_NAME_free>>;
using Ext = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;
using Bn = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using Time = std::unique_ptr<ASN1_TIME, Deleter<ASN1_TIME, ASN1_TIME_free>>;

// The name constraints of the station CA: it can vouch for loopback names and addresses only, so
// that trusting it (a CA in the system store is powerful) risks nothing beyond this machine.
constexpr const char* kNameConstraints =
    "critical,permitted;DNS:localhost,permitted;IP:127.0.0.0/255.0.0.0,"
    "permitted;IP:::1/ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";

std::string openssl_error() {
  std::string out;
  while (const auto e = ERR_get_error()) {
    std::array<char, 256> buf{};
    ERR_error_string_n(e, buf.data(), buf.size());
    out = buf.data();  // the last one is the most specific
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

// A failure inside OpenSSL (key generation, building or signing a certificate): io_error, with
// OpenSSL's reason in the message.
base::Error openssl_failure(const std::string& what) {
  return base::Error{std::make_error_code(std::errc::io_error), what + ": " + openssl_error()};
}

std::string read_bio(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

// Writes `text` to `path` atomically: a temporary file (mode 0600 for a key, else 0644) renamed
// over it, so a reader never sees half a file.
base::Expected<void> write_file(const std::filesystem::path& path, const std::string& text,
                                bool secret) {
  const auto tmp = path.string() + ".tmp";
  std::remove(tmp.c_str());
#ifdef _WIN32
  (void)secret;  // the data directory's ACL keeps it private on Windows
  std::FILE* f = std::fopen(tmp.c_str(), "wbx");
#else
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, secret ? 0600 : 0644);
  std::FILE* f = fd >= 0 ? ::fdopen(fd, "w") : nullptr;
  if (!f && fd >= 0) ::close(fd);
#endif
  if (!f) {
    const int e = errno;
    return base::errno_error(e, "cannot create " + tmp + ": " + std::strerror(e) +
                                    " (the TLS directory must be writable by the agent's user)");
  }
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size() && std::fflush(f) == 0;
#ifndef _WIN32
  ok = ok && ::fsync(::fileno(f)) == 0;
#endif
  ok = std::fclose(f) == 0 && ok;
  const int e = errno;
  std::error_code ec;
  if (ok) std::filesystem::rename(tmp, path, ec);
  if (!ok || ec) {
    auto failed =
        ec ? base::Error{ec, "cannot write " + path.string() + ": " + ec.message()}
           : base::errno_error(e, "cannot write " + path.string() + ": " + std::strerror(e));
    std::remove(tmp.c_str());
    return failed;
  }
  return {};
}

base::Expected<Key> new_p256_key() {
  Key key(EVP_EC_gen("P-256"));
  if (!key) return openssl_failure("cannot generate an ECDSA P-256 key");
  return key;
}

bool add_entry(X509_NAME* name, const char* field, std::string value) {
  if (value.size() > 64) value.resize(64);  // X.520 upper bound of these attributes
  return X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                    reinterpret_cast<const unsigned char*>(value.data()),
                                    static_cast<int>(value.size()), -1, 0) == 1;
}

std::string host_name() {
  std::array<char, 256> buf{};
  if (::gethostname(buf.data(), static_cast<int>(buf.size() - 1)) != 0) return "unknown host";
  return buf.data();
}

base::Expected<void> add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  Ext ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return openssl_failure(std::string("cannot add the extension ") + OBJ_nid2sn(nid));
  }
  return {};
}

// The extensions (nid, value) in order; the first that cannot be added is the Error.
base::Expected<void> add_exts(X509* cert, X509* issuer,
                              std::initializer_list<std::pair<int, const char*>> exts) {
  for (const auto& [nid, value] : exts) {
    if (auto added = add_ext(cert, issuer, nid, value); !added) return added;
  }
  return {};
}

// A certificate with a random positive 127-bit serial, validity `from` to `from + validity` and
// `subject`; the caller adds the extensions and signs.
base::Expected<Cert> new_cert(EVP_PKEY* key, const X509_NAME* subject, const X509_NAME* issuer,
                              SystemTime from, std::chrono::hours validity) {
  Cert cert(X509_new());
  Bn serial(BN_new());
  const auto start = std::chrono::system_clock::to_time_t(from);
  const auto end = std::chrono::system_clock::to_time_t(from + validity);
  const bool ok = cert && serial && X509_set_version(cert.get(), 2) == 1 &&
                  BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
                  BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) &&
                  ASN1_TIME_set(X509_getm_notBefore(cert.get()), start) &&
                  ASN1_TIME_set(X509_getm_notAfter(cert.get()), end) &&
                  X509_set_subject_name(cert.get(), subject) == 1 &&
                  X509_set_issuer_name(cert.get(), issuer) == 1 &&
                  X509_set_pubkey(cert.get(), key) == 1;
  if (!ok) return openssl_failure("cannot build a certificate");
  return cert;
}

std::string pem_of(X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  return read_bio(bio.get());
}

std::string pem_of(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return read_bio(bio.get());
}

Bio open_file(const std::filesystem::path& path) {
  return Bio(BIO_new_file(path.string().c_str(), "r"));
}

base::Expected<Cert> load_cert(const std::filesystem::path& path) {
  Bio bio = open_file(path);
  if (!bio) {
    const int e = errno;
    return base::errno_error(e,
                             path.string() + ": cannot read the certificate: " + std::strerror(e));
  }
  Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return base::invalid_argument(path.string() + ": not a PEM certificate (" + openssl_error() +
                                  ")");
  }
  return cert;
}

base::Expected<Key> load_key(const std::filesystem::path& path) {
  Bio bio = open_file(path);
  if (!bio) {
    const int e = errno;
    return base::errno_error(e,
                             path.string() + ": cannot read the private key: " + std::strerror(e));
  }
  Key key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    return base::invalid_argument(path.string() + ": not a PEM private key (" + openssl_error() +
                                  ")");
  }
  return key;
}

std::string name_text(const X509_NAME* name) {
  Bio bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  return read_bio(bio.get());
}

SystemTime time_of(const ASN1_TIME* t) {
  int days = 0;
  int seconds = 0;
  Time epoch(ASN1_TIME_set(nullptr, 0));
  if (!epoch || ASN1_TIME_diff(&days, &seconds, epoch.get(), t) != 1) return {};
  return SystemTime(std::chrono::seconds(std::int64_t{days} * 86400 + seconds));
}

std::string hex_colon(const unsigned char* data, std::size_t n) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    if (i) out += ':';
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 15];
  }
  return out;
}

std::string ip_text(const ASN1_OCTET_STRING* ip) {
  const auto* d = ASN1_STRING_get0_data(ip);
  const int n = ASN1_STRING_length(ip);
  if (n == 4) {
    return std::to_string(d[0]) + "." + std::to_string(d[1]) + "." + std::to_string(d[2]) + "." +
           std::to_string(d[3]);
  }
  if (n == 16) {
    static constexpr std::array<unsigned char, 16> kLoopback{0, 0, 0, 0, 0, 0, 0, 0,
                                                             0, 0, 0, 0, 0, 0, 0, 1};
    if (std::memcmp(d, kLoopback.data(), 16) == 0) return "::1";
    std::string out;
    char group[8];
    for (int i = 0; i < 16; i += 2) {
      std::snprintf(group, sizeof group, "%s%x", i ? ":" : "", (d[i] << 8) | d[i + 1]);
      out += group;
    }
    return out;
  }
  return "?";
}

std::vector<std::string> san_of(X509* cert) {
  std::vector<std::string> out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
    if (g->type == GEN_DNS) {
      const auto* s = g->d.dNSName;
      out.push_back("DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                         static_cast<std::size_t>(ASN1_STRING_length(s))));
    } else if (g->type == GEN_IPADD) {
      out.push_back("IP:" + ip_text(g->d.iPAddress));
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

}  // namespace

base::Expected<void> create_ca(const TlsFiles& files, const std::string& station_id,
                               SystemTime now) {
  auto key = new_p256_key();
  if (!key) return key.error();
  Name name(X509_NAME_new());
  // The common name is the same for every station (Windows' certutil -delstore finds the CA by
  // it at uninstall); the units tell stations and successive CAs apart.
  const auto stamp = scale::format_timestamp(now).substr(0, 16);  // "2026-12-07T06:30"
  if (!name || !add_entry(name.get(), "O", "weighlink") ||
      !add_entry(name.get(), "OU", "station " + station_id + " on " + host_name()) ||
      !add_entry(name.get(), "OU", "created " + stamp) ||
      !add_entry(name.get(), "CN", kCaCommonName)) {
    return openssl_failure("cannot build the CA's name");
  }
  // An hour back: a clock a little behind still takes it.
  auto cert =
      new_cert(key->get(), name.get(), name.get(), now - std::chrono::hours(1), kCaValidity);
  if (!cert) return cert.error();
  X509* c = cert->get();
  if (auto added = add_exts(c, c,
                            {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                             {NID_key_usage, "critical,keyCertSign,cRLSign"},
                             {NID_subject_key_identifier, "hash"},
                             {NID_name_constraints, kNameConstraints}});
      !added) {
    return added;
  }
  if (X509_sign(c, key->get(), EVP_sha256()) == 0) {
    return openssl_failure("cannot sign the CA certificate");
  }
  // The key first: a reader that sees the new certificate finds its key.
  if (auto written = write_file(files.ca_key(), pem_of(key->get()), true); !written) return written;
  return write_file(files.ca_cert(), pem_of(c), false);
}

base::Expected<void> issue_server_cert(const TlsFiles& files, SystemTime now,
                                       std::chrono::hours validity) {
  auto ca = load_cert(files.ca_cert());
  if (!ca) return ca.error();
  auto ca_key = load_key(files.ca_key());
  if (!ca_key) return ca_key.error();
  auto key = new_p256_key();
  if (!key) return key.error();
  Name name(X509_NAME_new());
  if (!name || !add_entry(name.get(), "O", "weighlink") ||
      !add_entry(name.get(), "CN", "localhost")) {
    return openssl_failure("cannot build the certificate's name");
  }
  const auto from = now - std::chrono::hours(1);
  validity = std::min(validity, kLeafValidity);
  auto cert = new_cert(key->get(), name.get(), X509_get_subject_name(ca->get()), from, validity);
  if (!cert) return cert.error();
  std::string san;
  for (const auto& n : local_names()) san += (san.empty() ? "" : ",") + n;
  if (auto added = add_exts(cert->get(), ca->get(),
                            {{NID_basic_constraints, "critical,CA:FALSE"},
                             {NID_key_usage, "critical,digitalSignature"},
                             {NID_ext_key_usage, "serverAuth"},
                             {NID_subject_alt_name, san.c_str()},
                             {NID_subject_key_identifier, "hash"},
                             {NID_authority_key_identifier, "keyid:always"}});
      !added) {
    return added;
  }
  if (X509_sign(cert->get(), ca_key->get(), EVP_sha256()) == 0) {
    return openssl_failure("cannot sign the server certificate");
  }
  if (auto written = write_file(files.key(), pem_of(key->get()), true); !written) return written;
  return write_file(files.cert(), pem_of(cert->get()), false);
}

base::Expected<CertFacts> read_cert(const std::filesystem::path& cert_file,
                                    const std::filesystem::path& key_file,
                                    const std::filesystem::path& ca_file) {
  auto loaded = load_cert(cert_file);
  if (!loaded) return loaded.error();
  const Cert& cert = *loaded;
  CertFacts f;
  f.subject = name_text(X509_get_subject_name(cert.get()));
  f.issuer = name_text(X509_get_issuer_name(cert.get()));
  if (Bn serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr)); serial) {
    char* hex = BN_bn2hex(serial.get());
    f.serial = hex ? hex : "";
    OPENSSL_free(hex);
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int md_len = 0;
  if (X509_digest(cert.get(), EVP_sha256(), md.data(), &md_len) == 1) {
    f.sha256 = hex_colon(md.data(), md_len);
  }
  f.not_before = time_of(X509_get0_notBefore(cert.get()));
  f.not_after = time_of(X509_get0_notAfter(cert.get()));
  f.names = san_of(cert.get());
  f.is_ca = X509_check_ca(cert.get()) != 0;
  if (!key_file.empty()) {
    auto key = load_key(key_file);
    f.key_matches = key && X509_check_private_key(cert.get(), key->get()) == 1;
  }
  if (!ca_file.empty()) {
    auto ca = load_cert(ca_file);
    f.signed_by_ca = ca && X509_check_issued(ca->get(), cert.get()) == X509_V_OK &&
                     X509_verify(cert.get(), X509_get0_pubkey(ca->get())) == 1;
  }
  ERR_clear_error();
  return f;
}

}  // namespace weighlink::agent
