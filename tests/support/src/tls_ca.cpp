#include "weighlink/testing/tls_ca.hpp"

#include <fstream>
#include <stdexcept>

#include "weighlink/testing/process.hpp"

namespace weighlink::testing {
namespace {

void openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/bin/openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto r = run(argv, std::chrono::seconds(30));
  if (r.exit_code != 0) throw std::runtime_error("openssl failed: " + r.output);
}

}  // namespace

TlsCa::TlsCa(std::filesystem::path dir, const std::string& name)
    : dir_(std::move(dir)),
      name_(name),
      cert_(dir_ / (name + "-ca.pem")),
      key_(dir_ / (name + "-ca.key")) {
  openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
           "-keyout", key_.string(), "-out", cert_.string(), "-days", "2", "-subj",
           "/CN=weighlink test CA " + name});
}

TlsCa::Issued TlsCa::issue(const std::string& name, const std::string& extensions) const {
  const auto base = dir_ / (name_ + "-" + name);
  Issued out{base.string() + ".pem", base.string() + ".key"};
  const auto csr = base.string() + ".csr";
  const auto ext = base.string() + ".ext";
  std::ofstream(ext) << extensions;
  openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
           out.key.string(), "-out", csr, "-subj", "/CN=" + name});
  openssl({"x509", "-req", "-in", csr, "-CA", cert_.string(), "-CAkey", key_.string(),
           "-CAcreateserial", "-out", out.cert.string(), "-days", "2", "-extfile", ext});
  return out;
}

TlsCa::Issued TlsCa::server_for_host(const std::string& name, const std::string& host) const {
  return issue(name, "subjectAltName=DNS:" + host + "\nextendedKeyUsage=serverAuth\n");
}

TlsCa::Issued TlsCa::server(const std::string& name) const {
  return issue(name, "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
}

TlsCa::Issued TlsCa::client(const std::string& name) const {
  return issue(name, "extendedKeyUsage=clientAuth\n");
}

}  // namespace weighlink::testing
