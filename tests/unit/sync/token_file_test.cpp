// The station token file, as the agent reads it at start and again after UNAUTHENTICATED; the
// PEM files of TLS to the backend.
#include <doctest/doctest.h>

#include <fstream>

#include "weighlink/base/credential_files.hpp"
#include "weighlink/testing/process.hpp"

using weighlink::base::read_token_file;
using weighlink::testing::TempDir;

TEST_CASE("token file: the first line, without trailing spaces or CR") {
  TempDir dir;
  const auto path = (dir.path() / "token").string();
  std::ofstream(path) << "wlst_abc \r\nignored\n";
  std::string error;
  CHECK(read_token_file(path, &error) == "wlst_abc");
  CHECK(error.empty());
}

TEST_CASE("token file: missing or empty is an error that says what to write") {
  TempDir dir;
  std::string error;
  CHECK(read_token_file((dir.path() / "none").string(), &error).empty());
  CHECK(error.find("cannot read the station token file") != std::string::npos);
  CHECK(error.find("station add") != std::string::npos);
  const auto empty = (dir.path() / "empty").string();
  std::ofstream(empty) << "\n";
  error.clear();
  CHECK(read_token_file(empty, &error).empty());
  CHECK(error.find("is empty") != std::string::npos);
  CHECK(error.find("rotate-token") != std::string::npos);
}

TEST_CASE("PEM file: the whole text, or an error naming the file") {
  TempDir dir;
  const auto path = (dir.path() / "ca.pem").string();
  const std::string pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  std::ofstream(path) << pem;
  std::string error;
  CHECK(weighlink::base::read_pem_file(path, &error) == pem);
  CHECK(error.empty());

  const auto html = (dir.path() / "page.html").string();
  std::ofstream(html) << "<html>not a certificate</html>\n";
  CHECK(weighlink::base::read_pem_file(html, &error).empty());
  CHECK(error == "cannot read a PEM file at " + html);
  error.clear();
  const auto missing = (dir.path() / "none.pem").string();
  CHECK(weighlink::base::read_pem_file(missing, &error).empty());
  CHECK(error.find(missing) != std::string::npos);
}
