// Encrypted offsite copies: an rclone crypt remote in front of the bucket (here a folder served by
// `rclone serve webdav` on loopback, started and stopped by the test). backup writes through it,
// verify-backup reads and promotes through it, restore --dir fetches through it, and so do drill
// and prune; the bucket itself holds no plaintext (no file name, no dump or manifest bytes), while
// the on-site mirror, plain by design, shows that the same search finds plaintext where there is
// some. Without the key nothing can be restored.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "weighlink/testing/backend.hpp"
#include "weighlink/testing/backup_data.hpp"
#include "weighlink/testing/pg_cluster.hpp"
#include "weighlink/testing/process.hpp"
#include "weighlink/testing/rclone_serve.hpp"

using weighlink::testing::bin;
using weighlink::testing::last_line;
using weighlink::testing::PgCluster;
using weighlink::testing::RcloneServe;
using weighlink::testing::read_file;
using weighlink::testing::run;
using weighlink::testing::TempDir;
namespace fs = std::filesystem;

namespace {

// `rclone obscure TEXT`: the form rclone's config and connection strings take a crypt password in.
std::string obscure(const std::string& text) {
  const auto r = weighlink::testing::run_split({weighlink::testing::kRclone, "obscure", text});
  REQUIRE(r.exit_code == 0);
  auto out = r.out;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  REQUIRE_FALSE(out.empty());
  return out;
}

// A crypt remote over `underlying` (an on-the-fly rclone remote with its path).
std::string crypt_remote(const std::string& underlying, const std::string& password,
                         const std::string& salt) {
  return ":crypt,remote=\"" + underlying + "\",password=" + password + ",password2=" + salt + ":";
}

// Every plaintext trace of a backup found under `dir`, file names and contents: what a bucket
// must not hold.
std::vector<std::string> plaintext_in(const fs::path& dir) {
  const std::vector<std::string> name_parts = {"weighlink", ".dump", "manifest", "verified",
                                               "partial"};
  // The custom-format header, SQL of the dump's TOC, the manifest's and pointer's JSON keys.
  const std::vector<std::string> content_parts = {
      "PGDMP",      "CREATE TABLE",       "mutation_log", "weighlink-backup/1", "\"row_counts\"",
      "\"sha256\"", "station_high_water", "created_at",   "verified_at"};
  std::vector<std::string> found;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const std::string relative = fs::relative(e.path(), dir).string();
    for (const auto& part : name_parts) {
      if (relative.find(part) != std::string::npos)
        found.push_back(relative + ": name has " + part);
    }
    if (!e.is_regular_file()) continue;
    const std::string bytes = read_file(e.path());
    for (const auto& part : content_parts) {
      if (bytes.find(part) != std::string::npos) found.push_back(relative + ": holds " + part);
    }
  }
  return found;
}

std::size_t files_under(const fs::path& dir) {
  std::size_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) n += e.is_regular_file() ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("offsite crypt: backup, verify-backup and restore through a crypt remote, no plaintext") {
  PgCluster pg;
  weighlink::testing::seed_captures(pg, 100);
  (void)pg.query_scalar("CREATE DATABASE target");
  TempDir root("wl-offsite-crypt");
  const auto bucket = root / "bucket";
  const auto mirror = root / "mirror";
  fs::create_directories(bucket);
  RcloneServe webdav(RcloneServe::Kind::webdav, bucket, root / "rclone.log");
  const std::string password = obscure("correct horse battery staple, kept in the vault");
  const std::string salt = obscure("a second passphrase, kept beside the first");
  // The path under the bucket is the operator's, not encrypted: a neutral name.
  const std::string crypt = crypt_remote(webdav.remote() + "vault", password, salt);

  // backup: encrypted offsite, plain on-site mirror.
  const auto b = run({bin("weighlink-backend"), "backup", "--dsn", pg.dsn(), "--dir", crypt,
                      "--mirror", mirror.string(), "--staging-dir", (root / "staging").string()});
  INFO(b.output);
  REQUIRE(b.exit_code == 0);
  CHECK(b.output.find(password) == std::string::npos);  // the key never shows
  CHECK(b.output.find(salt) == std::string::npos);
  CHECK(last_line(b.output).ends_with(".manifest.json"));

  // verify-backup reads it through the crypt remote and promotes it there.
  const auto v =
      weighlink::testing::verify_backup_with_report({"--dir", crypt}, root / "report.json");
  INFO(v.output);
  REQUIRE(v.exit_code == 0);
  CHECK(v.code() == "OK");
  CHECK(v.output.find(password) == std::string::npos);

  // The bucket: dump, manifest, verification record and pointer, all of them encrypted.
  CHECK(files_under(bucket) >= 4);
  const auto leaks = plaintext_in(bucket);
  CHECK_MESSAGE(leaks.empty(), "plaintext in the bucket: " << leaks.front());
  // The same search finds the plaintext of the on-site mirror: it can fail.
  CHECK_FALSE(plaintext_in(mirror).empty());

  // Without the key: nothing to restore, and the target is not touched.
  const auto wrong = run({bin("weighlink-backend"), "restore", "--dsn", pg.dsn("target"), "--dir",
                          crypt_remote(webdav.remote() + "vault", obscure("a guess"), salt),
                          "--staging-dir", (root / "staging").string()},
                         std::chrono::seconds(120));
  INFO(wrong.output);
  CHECK(wrong.exit_code == 1);
  CHECK(wrong.output.find("verified-latest") != std::string::npos);
  CHECK(pg.query_scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", "target") ==
        "0");

  // restore --dir: verified-latest's dump and its manifest fetched and decrypted, checked,
  // restored.
  const auto r = run({bin("weighlink-backend"), "restore", "--dsn", pg.dsn("target"), "--dir",
                      crypt, "--staging-dir", (root / "staging").string()},
                     std::chrono::seconds(120));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("matches its manifest") != std::string::npos);
  CHECK(r.output.find("matches the expected sha256") != std::string::npos);
  CHECK(r.output.find(password) == std::string::npos);
  for (const char* table : {"stations", "mutation_log", "weighings"}) {
    CAPTURE(table);
    const std::string count = std::string("SELECT count(*) FROM ") + table;
    CHECK(pg.query_scalar(count, "target") == pg.query_scalar(count));
  }
  CHECK(fs::is_empty(root / "staging"));  // the download folder is gone

  // A dump named with --file, again through the crypt remote: checked against its manifest.
  std::string dump;  // its name, as the plain mirror shows it
  for (const auto& e : fs::directory_iterator(mirror)) {
    if (e.path().extension() == ".dump") dump = e.path().filename().string();
  }
  REQUIRE(dump.starts_with("weighlink_"));
  const auto named =
      run({bin("weighlink-backend"), "restore", "--dsn", pg.dsn("target"), "--dir", crypt, "--file",
           dump, "--force", "--staging-dir", (root / "staging").string()},
          std::chrono::seconds(120));
  INFO(named.output);
  CHECK(named.exit_code == 0);
  CHECK(named.output.find("matches its manifest") != std::string::npos);
  CHECK(named.output.find("expected sha256") == std::string::npos);
  // A path instead of a name, and neither --file nor --dir: bad usage.
  CHECK(run({bin("weighlink-backend"), "restore", "--dsn", pg.dsn("target"), "--dir", crypt,
             "--file", "../" + dump})
            .exit_code == 2);
  CHECK(run({bin("weighlink-backend"), "restore", "--dsn", pg.dsn("target")}).exit_code == 2);

  // The restore drill reads through it too: a pass proves the stored key still opens the bucket.
  const weighlink::testing::ScratchDir scratch;
  const auto drill = run({bin("weighlink-backend"), "drill", "--dir", crypt, "--scratch-dir",
                          scratch.path().string(), "--ops-log", (root / "drills.jsonl").string()},
                         std::chrono::seconds(240));
  INFO(drill.output);
  CHECK(drill.exit_code == 0);
  CHECK(read_file(root / "drills.jsonl").find("\"result\":\"pass\"") != std::string::npos);

  // Retention reads the crypt remote's manifests like any folder's.
  const auto pruned =
      run({bin("weighlink-backend"), "prune", "--dir", crypt, "--keep-daily", "1", "--dry-run"});
  INFO(pruned.output);
  CHECK(pruned.exit_code == 0);
  CHECK(pruned.output.find("keep " + dump) != std::string::npos);
  CHECK(pruned.output.find("1 kept, 0 would be removed") != std::string::npos);
}
