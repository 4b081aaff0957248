#pragma once
// A throwaway certificate authority for TLS tests, made with the openssl command line in a
// directory the test owns: a CA, and certificates it issues for 127.0.0.1/localhost (server) or
// a named client. EC P-256 keys, valid two days.

#include <filesystem>
#include <string>

namespace weighlink::testing {

class TlsCa {
 public:
  // Creates the CA in `dir` (which must exist); `name` tells two CAs apart.
  TlsCa(std::filesystem::path dir, const std::string& name);

  struct Issued {
    std::filesystem::path cert;  // PEM certificate
    std::filesystem::path key;   // PEM private key
  };
  // A server certificate for 127.0.0.1 and localhost.
  [[nodiscard]] Issued server(const std::string& name) const;
  // A server certificate for the DNS name `host` (a test web app's origin).
  [[nodiscard]] Issued server_for_host(const std::string& name, const std::string& host) const;
  // A client certificate (extendedKeyUsage clientAuth) with CN `name`.
  [[nodiscard]] Issued client(const std::string& name) const;
  [[nodiscard]] const std::filesystem::path& cert() const { return cert_; }

 private:
  [[nodiscard]] Issued issue(const std::string& name, const std::string& extensions) const;
  std::filesystem::path dir_;
  std::string name_;
  std::filesystem::path cert_;
  std::filesystem::path key_;
};

}  // namespace weighlink::testing
