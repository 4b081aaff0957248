// The station token file, as the agent reads it at start and again after UNAUTHENTICATED; the
// PEM files of TLS to the backend.
#include <doctest/doctest.h>

#include <fstream>
#include <system_error>

#include "weighlink/base/credential_files.hpp"
#include "weighlink/testing/process.hpp"

using weighlink::base::read_pem_file;
using weighlink::base::read_token_file;
using weighlink::testing::TempDir;

TEST_CASE("token file: the first line, without trailing spaces or CR") {
  TempDir dir;
  const auto path = (dir.path() / "token").string();
  std::ofstream(path) << "wlst_abc \r\nignored\n";
  const auto token = read_token_file(path);
  REQUIRE(token.has_value());
  CHECK(*token == "wlst_abc");
}

TEST_CASE("token file: missing or empty is an error that says what to write") {
  TempDir dir;
  const auto missing = read_token_file((dir.path() / "none").string());
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code == std::errc::no_such_file_or_directory);
  CHECK(missing.error().message.find("cannot read the station token file") != std::string::npos);
  CHECK(missing.error().message.find("station add") != std::string::npos);
  const auto empty = (dir.path() / "empty").string();
  std::ofstream(empty) << "\n";
  const auto blank = read_token_file(empty);
  REQUIRE_FALSE(blank.has_value());
  CHECK(blank.error().code == std::errc::invalid_argument);
  CHECK(blank.error().message.find("is empty") != std::string::npos);
  CHECK(blank.error().message.find("rotate-token") != std::string::npos);
}

TEST_CASE("PEM file: the whole text, or an error naming the file") {
  TempDir dir;
  const auto path = (dir.path() / "ca.pem").string();
  const std::string pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  std::ofstream(path) << pem;
  const auto read = read_pem_file(path);
  REQUIRE(read.has_value());
  CHECK(*read == pem);

  const auto html = (dir.path() / "page.html").string();
  std::ofstream(html) << "<html>not a certificate</html>\n";
  const auto not_pem = read_pem_file(html);
  REQUIRE_FALSE(not_pem.has_value());
  CHECK(not_pem.error().code == std::errc::invalid_argument);
  CHECK(not_pem.error().message == "cannot read a PEM file at " + html);
  const auto missing = (dir.path() / "none.pem").string();
  const auto none = read_pem_file(missing);
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().code == std::errc::no_such_file_or_directory);
  CHECK(none.error().message.find(missing) != std::string::npos);
}
