#include "weighlink/recovery/offsite.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <map>

#include "weighlink/testing/process.hpp"

using namespace weighlink::recovery;
using std::chrono::system_clock;
using weighlink::testing::read_file;
using weighlink::testing::TempDir;

namespace {

Location location(const std::string& spec) {
  auto parsed = parse_location(spec);
  REQUIRE(parsed.has_value());
  return *parsed;
}

bool is_remote(const std::string& spec) { return location(spec).remote(); }

system_clock::time_point utc(int y, unsigned mo, unsigned d, int h, int mi, int s) {
  return std::chrono::sys_days(std::chrono::year(y) / mo / d) + std::chrono::hours(h) +
         std::chrono::minutes(mi) + std::chrono::seconds(s);
}

// A store whose list() answers from a table: ok, or an error of the given code.
class FakeStore final : public Store {
 public:
  FakeStore(Location location, std::optional<OffsiteErrc> failure)
      : location_(std::move(location)), failure_(failure) {}
  const Location& location() const override { return location_; }
  OffsiteResult<std::vector<StoreEntry>> list() override {
    if (failure_) return OffsiteError{*failure_, "cannot list " + location_.spec, "boom"};
    return std::vector<StoreEntry>{{"weighlink_1.dump", 10, {}}};
  }
  OffsiteResult<std::filesystem::path> fetch(const std::string&,
                                             const std::filesystem::path& p) override {
    return p;
  }
  OffsiteResult<void> put(const std::filesystem::path&, const std::string&) override { return {}; }
  OffsiteResult<void> remove(const std::string&) override { return {}; }
  OffsiteResult<std::string> read_small(const std::string&) override { return std::string(); }
  OffsiteResult<void> write_small(const std::string&, std::string_view) override { return {}; }

 private:
  Location location_;
  std::optional<OffsiteErrc> failure_;
};

StoreFactory fake_factory(std::map<std::string, std::optional<OffsiteErrc>> table,
                          std::vector<std::string>* opened) {
  return [table = std::move(table), opened](const Location& l) -> std::unique_ptr<Store> {
    opened->push_back(l.spec);
    return std::make_unique<FakeStore>(l, table.at(l.spec));
  };
}

void write_file(const std::filesystem::path& file, const std::string& text) {
  std::ofstream(file, std::ios::binary) << text;
}

}  // namespace

TEST_CASE("offsite: a colon before the first slash makes a remote") {
  CHECK(is_remote("s3:bucket/backups"));
  CHECK(is_remote("offsite:"));
  CHECK(is_remote("offsite:backups/weighlink"));
  CHECK(is_remote(":webdav,url='http://127.0.0.1:1234':backups"));
  CHECK(is_remote(":local:/srv/backups"));
  CHECK(is_remote("my-remote,pass='x':dir"));
}

TEST_CASE("offsite: paths, colons after a slash and Windows drives are local") {
  CHECK_FALSE(is_remote("/var/lib/weighlink/backups"));
  CHECK_FALSE(is_remote("backups"));
  CHECK_FALSE(is_remote("./backups:old"));
  CHECK_FALSE(is_remote("/srv/backups:2024"));
  CHECK_FALSE(is_remote("C:"));
  CHECK_FALSE(is_remote("C:\\backups"));
  CHECK_FALSE(is_remote("d:backups"));
  CHECK(location("/srv/b").spec == "/srv/b");
}

TEST_CASE("offsite: an empty location is refused") {
  auto parsed = parse_location("");
  REQUIRE_FALSE(parsed.has_value());
  CHECK(parsed.error().code == OffsiteErrc::invalid_argument);
  CHECK(make_error_code(parsed.error().code).category() == offsite_category());
}

TEST_CASE("offsite: a list of locations keeps its order, and the first bad one is the error") {
  const auto parsed = parse_locations({"s3:bucket/nightly", "/srv/backups"});
  REQUIRE(parsed.has_value());
  REQUIRE(parsed->size() == 2);
  CHECK((*parsed)[0].remote());
  CHECK_FALSE((*parsed)[1].remote());
  const auto bad = parse_locations({"/srv/backups", ""});
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().code == OffsiteErrc::invalid_argument);
}

TEST_CASE("offsite: display hides passwords, secrets and tokens of a connection string") {
  // A crypt remote in front of another: both of its passwords hidden, the inner remote kept.
  CHECK(location(":crypt,remote=\":webdav,url='http://127.0.0.1:1234':vault\",password=AbC-1,"
                 "password2=dEf_2:")
            .display() ==
        ":crypt,remote=\":webdav,url='http://127.0.0.1:1234':vault\",password=***,password2=***:");
  CHECK(location(":webdav,url='http://127.0.0.1:1234',user=backup,pass='s3cr,et':dir").display() ==
        ":webdav,url='http://127.0.0.1:1234',user=backup,pass=***:dir");
  CHECK(location(":s3,access_key_id=AK,secret_access_key=SK,region=eu:bucket").display() ==
        ":s3,access_key_id=***,secret_access_key=***,region=eu:bucket");
  CHECK(location(":webdav,url='https://user:pw@dav.example.com/x',bearer_token=T:").display() ==
        ":webdav,url='https://user:***@dav.example.com/x',bearer_token=***:");
  CHECK(location("offsite:backups").display() == "offsite:backups");
  CHECK(location("/srv/backups").display() == "/srv/backups");
}

TEST_CASE("offsite: file names are plain names") {
  CHECK(check_file_name("weighlink_20240501_030000.dump").has_value());
  CHECK(check_file_name("verified-latest").has_value());
  for (const char* bad : {"", ".", "..", "a/b", "../x", "a\\b", "a\nb"}) {
    CAPTURE(bad);
    auto checked = check_file_name(bad);
    REQUIRE_FALSE(checked.has_value());
    CHECK(checked.error().code == OffsiteErrc::invalid_argument);
  }
}

TEST_CASE("offsite: a name joins a remote with a slash unless it ends in a colon or slash") {
  CHECK(remote_path("s3:bucket/dir", "f") == "s3:bucket/dir/f");
  CHECK(remote_path("s3:bucket/dir/", "f") == "s3:bucket/dir/f");
  CHECK(remote_path("offsite:", "f") == "offsite:f");
  CHECK(remote_path(":webdav,url='http://127.0.0.1:1':", "f") ==
        ":webdav,url='http://127.0.0.1:1':f");
}

TEST_CASE("offsite: RFC 3339 times as rclone prints them") {
  CHECK(parse_rfc3339("2024-05-01T03:00:00Z") == utc(2024, 5, 1, 3, 0, 0));
  CHECK(parse_rfc3339("2024-05-01T05:00:00+02:00") == utc(2024, 5, 1, 3, 0, 0));
  CHECK(parse_rfc3339("2024-04-30T23:30:00-03:30") == utc(2024, 5, 1, 3, 0, 0));
  CHECK(parse_rfc3339("2024-05-01T03:00:00.123456789Z") ==
        utc(2024, 5, 1, 3, 0, 0) + std::chrono::nanoseconds(123456789));
  CHECK(parse_rfc3339("2024-05-01T03:00:00.5Z") ==
        utc(2024, 5, 1, 3, 0, 0) + std::chrono::milliseconds(500));
  for (const char* bad : {"", "2024-05-01", "2024-05-01T03:00:00", "2024-13-01T03:00:00Z",
                          "2024-02-30T03:00:00Z", "2024-05-01T03:00:00.Z", "2024-05-01 03:00:00Z",
                          "2024-05-01T03:00:00+0200", "2024-05-01T03:00:00Zjunk"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_rfc3339(bad));
  }
}

TEST_CASE("offsite: lsjson output gives the files and skips folders") {
  const auto entries = parse_lsjson(R"([
{"Path":"a.dump","Name":"a.dump","Size":6,"ModTime":"2024-05-01T03:00:00Z","IsDir":false},
{"Path":"old","Name":"old","Size":-1,"ModTime":"2024-05-01T03:00:00Z","IsDir":true},
{"Path":"b.manifest.json","Name":"b.manifest.json","Size":-1,"ModTime":"bad","IsDir":false}
])");
  REQUIRE(entries.has_value());
  REQUIRE(entries->size() == 2);
  CHECK((*entries)[0] == StoreEntry{"a.dump", 6, utc(2024, 5, 1, 3, 0, 0)});
  CHECK((*entries)[1].name == "b.manifest.json");
  CHECK((*entries)[1].size == 0);  // unknown to the backend
  CHECK(parse_lsjson("[\n]\n")->empty());
  CHECK_FALSE(parse_lsjson("<html>").has_value());
  CHECK_FALSE(parse_lsjson(R"([{"Size":1}])").has_value());
}

TEST_CASE("offsite: rclone failures are told apart: unreachable, not found, other") {
  const auto log = [](const std::string& line) {
    return "2024/05/01 03:00:00 ERROR : : error listing: " + line + "\n";
  };
  // Seen from rclone 1.60 against a closed port, a mute server, and an HTTP 503 (exit status 1).
  CHECK(classify_rclone_failure(5, log("Propfind \"http://127.0.0.1:9/\": dial tcp 127.0.0.1:9: "
                                       "connect: connection refused")) == OffsiteErrc::unreachable);
  CHECK(classify_rclone_failure(5, log("net/http: timeout awaiting response headers")) ==
        OffsiteErrc::unreachable);
  CHECK(classify_rclone_failure(1, log("couldn't list files: oops: 503 Service Unavailable")) ==
        OffsiteErrc::unreachable);
  CHECK(classify_rclone_failure(1, log("dial tcp: lookup dav.invalid: no such host")) ==
        OffsiteErrc::unreachable);
  CHECK(classify_rclone_failure(1, log("SlowDown: please reduce, status code: 503")) ==
        OffsiteErrc::unreachable);
  CHECK(classify_rclone_failure(5, "") == OffsiteErrc::unreachable);
  CHECK(classify_rclone_failure(3, log("directory not found")) == OffsiteErrc::not_found);
  CHECK(classify_rclone_failure(4, "") == OffsiteErrc::not_found);
  CHECK(classify_rclone_failure(
            1, log(":webdav,url='http://127.0.0.1:1':x is a directory or doesn't exist")) ==
        OffsiteErrc::not_found);
  CHECK(classify_rclone_failure(1, log("couldn't list files: oops: 401 Unauthorized")) ==
        OffsiteErrc::failed);
  CHECK(classify_rclone_failure(1, log("http remotes are read only")) == OffsiteErrc::failed);
  CHECK(classify_rclone_failure(1,
                                "Failed to create file system for \"nosuch:\": didn't find "
                                "section in config file") == OffsiteErrc::failed);
  // Sizes and ports are not statuses.
  CHECK(classify_rclone_failure(1, log("short write of 512 bytes")) == OffsiteErrc::failed);
}

TEST_CASE("offsite: the error summary is rclone's last error without the timestamp") {
  CHECK(rclone_error_summary("2024/05/01 03:00:00 ERROR : : error listing: directory not found\n"
                             "2024/05/01 03:00:00 Failed to lsjson with 2 errors: last error "
                             "was: error in ListJSON: directory not found\n") ==
        "error in ListJSON: directory not found");
  CHECK(rclone_error_summary("2024/05/01 03:00:00 ERROR : x: Failed to copy: read only\n\n") ==
        "x: Failed to copy: read only");
  CHECK(rclone_error_summary("") == "");
  CHECK(rclone_error_summary(std::string(1000, 'x')).size() < 420);
}

TEST_CASE("offsite: the first location that lists is used and the ones before are noted") {
  std::vector<std::string> opened;
  const std::vector<Location> locations{location("primary:"), location("second:"),
                                        location("third:")};
  auto reachable =
      open_first_reachable(locations, fake_factory({{"primary:", OffsiteErrc::unreachable},
                                                    {"second:", std::nullopt},
                                                    {"third:", std::nullopt}},
                                                   &opened));
  REQUIRE(reachable.has_value());
  CHECK(reachable->index == 1);
  CHECK(reachable->store->location().spec == "second:");
  CHECK(reachable->entries.size() == 1);
  REQUIRE(reachable->skipped.size() == 1);
  CHECK(reachable->skipped[0].location.spec == "primary:");
  CHECK(reachable->skipped[0].error.code == OffsiteErrc::unreachable);
  CHECK(opened == std::vector<std::string>{"primary:", "second:"});  // the third is never tried
  CHECK(describe_fallback(*reachable) ==
        "primary primary: endpoint unreachable (boom), served by fallback second:");
}

TEST_CASE("offsite: a primary that lists is used alone") {
  std::vector<std::string> opened;
  auto reachable = open_first_reachable(
      {location("/srv/backups"), location("second:")},
      fake_factory({{"/srv/backups", std::nullopt}, {"second:", std::nullopt}}, &opened));
  REQUIRE(reachable.has_value());
  CHECK(reachable->index == 0);
  CHECK(reachable->skipped.empty());
  CHECK(opened.size() == 1);
  CHECK(describe_fallback(*reachable) == "served by primary /srv/backups");
}

TEST_CASE("offsite: none reachable names every location and its reason") {
  std::vector<std::string> opened;
  auto reachable = open_first_reachable(
      {location("primary:"), location("second:")},
      fake_factory({{"primary:", OffsiteErrc::unreachable}, {"second:", OffsiteErrc::not_found}},
                   &opened));
  REQUIRE_FALSE(reachable.has_value());
  CHECK(reachable.error().code == OffsiteErrc::none_reachable);
  CHECK(reachable.error().message.find("primary primary: endpoint unreachable (boom)") !=
        std::string::npos);
  CHECK(reachable.error().message.find("fallback second: not found (boom)") != std::string::npos);
  CHECK(open_first_reachable({}).error().code == OffsiteErrc::invalid_argument);
}

TEST_CASE("offsite: a local folder stores, lists, reads and removes, leaving no partial file") {
  TempDir tmp("wl-offsite");
  const auto dir = tmp / "backups";  // created by the first write
  auto store = open_store(location(dir.string()));
  CHECK(store->list().error().code == OffsiteErrc::not_found);

  write_file(tmp / "source.dump", "PGDMP dump bytes");
  REQUIRE(store->put(tmp / "source.dump", "weighlink_1.dump").has_value());
  REQUIRE(store->write_small("verified-latest", "weighlink_1.dump").has_value());
  auto entries = store->list();
  REQUIRE(entries.has_value());
  REQUIRE(entries->size() == 2);
  std::map<std::string, std::uint64_t> sizes;
  for (const auto& e : *entries) sizes[e.name] = e.size;
  CHECK(sizes ==
        std::map<std::string, std::uint64_t>{{"verified-latest", 16}, {"weighlink_1.dump", 16}});
  CHECK(read_file(dir / "weighlink_1.dump") == "PGDMP dump bytes");

  // The same size, new contents: replaced.
  REQUIRE(store->write_small("verified-latest", "weighlink_2.dump").has_value());
  CHECK(*store->read_small("verified-latest") == "weighlink_2.dump");

  CHECK(store->read_small("missing").error().code == OffsiteErrc::not_found);
  CHECK(store->remove("missing").error().code == OffsiteErrc::not_found);
  CHECK(store->fetch("missing", tmp / "x").error().code == OffsiteErrc::not_found);
  CHECK(store->put(tmp / "no-such-source", "y").error().code == OffsiteErrc::not_found);
  CHECK(store->put(tmp / "source.dump", "../escape").error().code == OffsiteErrc::invalid_argument);

  REQUIRE(store->remove("weighlink_1.dump").has_value());
  CHECK_FALSE(std::filesystem::exists(dir / "weighlink_1.dump"));
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    CHECK_FALSE(e.path().string().ends_with(kPartialSuffix));
  }
}

TEST_CASE("offsite: fetching from a local folder reads the file in place, without a copy") {
  TempDir tmp("wl-offsite");
  write_file(tmp / "weighlink_1.dump", "PGDMP");
  auto store = open_store(location(tmp.path().string()));
  const auto fetched = store->fetch("weighlink_1.dump", tmp / "copy.dump");
  REQUIRE(fetched.has_value());
  CHECK(*fetched == tmp / "weighlink_1.dump");
  CHECK_FALSE(std::filesystem::exists(tmp / "copy.dump"));
}

TEST_CASE("offsite: a small read refuses a file as big as a dump") {
  TempDir tmp("wl-offsite");
  write_file(tmp / "big.dump", std::string(kMaxSmallBytes + 1, 'x'));
  auto store = open_store(location(tmp.path().string()));
  const auto read = store->read_small("big.dump");
  REQUIRE_FALSE(read.has_value());
  CHECK(read.error().code == OffsiteErrc::failed);
  CHECK(read.error().message.find("big.dump") != std::string::npos);
}
