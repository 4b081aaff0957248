// The camera component's pure parts: HTTP Digest against the RFCs' own vectors, the JPEG check
// and the weighlink.capture_images payload.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "weighlink/agent/camera/anpr_intake.hpp"
#include "weighlink/agent/camera/camera_shot.hpp"
#include "weighlink/agent/camera/capture_images.hpp"
#include "weighlink/agent/camera/http_auth.hpp"
#include "weighlink/agent/camera/image_retention.hpp"
#include "weighlink/record/exact_json.hpp"
#include "weighlink/sync/blob_store.hpp"
#include "weighlink/sync/outbox.hpp"
#include "weighlink/testing/process.hpp"

namespace json = boost::json;
using namespace weighlink::agent::camera;  // NOLINT(google-build-using-namespace)

namespace {

// The response="..." of an Authorization value.
std::string response_of(const std::string& authorization) {
  const auto at = authorization.find("response=\"");
  REQUIRE(at != std::string::npos);
  const auto start = at + 10;
  return authorization.substr(start, authorization.find('"', start) - start);
}

// RFC 7616 section 3.9.1: two challenges in one value, SHA-256 and MD5.
const std::string kRfc7616 =
    "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=SHA-256, "
    "nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", "
    "opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\", "
    "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=MD5, "
    "nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", "
    "opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";

const DigestInput kMufasa{"Mufasa",
                          "Circle of Life",
                          "GET",
                          "/dir/index.html",
                          "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
                          1};

}  // namespace

TEST_CASE("camera digest: RFC 7616's SHA-256 and MD5 examples give the RFC's responses") {
  const auto offered = parse_www_authenticate(kRfc7616);
  REQUIRE(offered.size() == 2);
  CHECK(offered[0].scheme == "digest");
  CHECK(offered[0].params.at("algorithm") == "SHA-256");
  CHECK(offered[1].params.at("opaque") == "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS");

  auto sha = digest_authorization(offered[0], kMufasa);
  REQUIRE(sha.has_value());
  CHECK(response_of(*sha) == "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
  CHECK(sha->find("qop=auth, nc=00000001, cnonce=\"" + kMufasa.cnonce + "\"") != std::string::npos);
  CHECK(sha->find("opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"") != std::string::npos);

  auto md5 = digest_authorization(offered[1], kMufasa);
  REQUIRE(md5.has_value());
  CHECK(response_of(*md5) == "8ca523f5e9506fed4657c9700eebdbec");

  // Asked for Digest, the strongest algorithm offered is answered.
  CHECK(choose_challenge(offered, "digest") == &offered[0]);
  CHECK(choose_challenge(offered, "auto") == &offered[0]);
  CHECK(choose_challenge(offered, "basic") == nullptr);
}

TEST_CASE("camera digest: RFC 2617's MD5 example, and a challenge without qop") {
  const auto offered = parse_www_authenticate(
      "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", "
      "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"");
  REQUIRE(offered.size() == 1);
  const DigestInput in{"Mufasa", "Circle Of Life", "GET", "/dir/index.html", "0a4f113b", 1};
  auto v = digest_authorization(offered[0], in);
  REQUIRE(v.has_value());
  CHECK(response_of(*v) == "6629fae49393a05397450978507c4ef1");

  // RFC 2069's form (no qop): H(HA1:nonce:HA2), no nc or cnonce sent.
  auto legacy = parse_www_authenticate("Digest realm=\"r\", nonce=\"n\"");
  auto l = digest_authorization(legacy.at(0), in);
  REQUIRE(l.has_value());
  CHECK(l->find("cnonce") == std::string::npos);
  CHECK(response_of(*l).size() == 32);
}

TEST_CASE("camera digest: what cannot be answered is refused with a reason") {
  auto only_int = parse_www_authenticate("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"");
  auto r = digest_authorization(only_int.at(0), kMufasa);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message.find("auth-int") != std::string::npos);

  auto sha512 = parse_www_authenticate("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256");
  CHECK_FALSE(digest_authorization(sha512.at(0), kMufasa).has_value());
  CHECK(choose_challenge(sha512, "digest") == nullptr);

  // Basic and Digest offered together: auto takes Digest, basic takes Basic.
  auto both = parse_www_authenticate("Basic realm=\"cam\", Digest realm=\"cam\", nonce=\"x\"");
  REQUIRE(both.size() == 2);
  CHECK(choose_challenge(both, "auto")->scheme == "digest");
  CHECK(choose_challenge(both, "basic")->scheme == "basic");
  CHECK(basic_authorization("Aladdin", "open sesame") == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
}

TEST_CASE("camera: a still must be one whole JPEG within the size cap") {
  const std::string jpeg = std::string("\xFF\xD8\xFF\xE0", 4) + "body" + "\xFF\xD9";
  CHECK(checked_jpeg(jpeg, 1024).ok());
  CHECK(checked_jpeg(jpeg + std::string(2, '\0'), 1024).ok());  // padding some cameras send
  auto cut = checked_jpeg(jpeg.substr(0, jpeg.size() - 2), 1024);
  CHECK(cut.reason == "not a jpeg");
  CHECK(cut.detail.find("cut short") != std::string::npos);
  CHECK(checked_jpeg("<html>401</html>", 1024).reason == "not a jpeg");
  CHECK(checked_jpeg(jpeg, 4).reason == "too large");
}

TEST_CASE("camera: the capture_images payload binds each image's sha256 and lists attachments") {
  CaptureImages r;
  r.station_id = "st-1";
  r.scale = "main";
  r.weighing_seq = 42;
  r.weighing_key = "cap-1";
  r.record_hash = std::string(64, 'a');
  r.images = {ImageEntry{"entry", true, std::string(64, 'b'), 1234, "2026-12-07T10:00:00.000Z", {}},
              ImageEntry{"rear", false, {}, 0, {}, "http 401"},
              ImageEntry{"side", true, std::string(64, 'b'), 1234, "2026-12-07T10:00:00.100Z", {}}};
  CHECK(images_key(r.weighing_key) == "cap-1:images");
  const auto p = capture_images_payload(r);
  CHECK(p.at("trigger") == "capture");
  CHECK(p.at("weighing").at("seq") == 42);
  CHECK(p.at("weighing").at("idempotency_key") == "cap-1");
  CHECK(p.at("weighing").at("record_hash") == json::value(r.record_hash));
  CHECK_FALSE(p.contains("axle"));
  const auto& images = p.at("images").as_array();
  REQUIRE(images.size() == 3);
  CHECK(images[0].at("status") == "ok");
  CHECK(images[0].at("content_type") == "image/jpeg");
  CHECK(images[0].at("bytes") == 1234);
  CHECK(images[1] == json::value(json::object{
                         {"camera", "rear"}, {"status", "missing"}, {"reason", "http 401"}}));
  // The same bytes from two cameras are one file to send.
  REQUIRE(p.at("attachments").as_array().size() == 1);
  CHECK(p.at("attachments").at(0) ==
        json::value(json::object{
            {"sha256", std::string(64, 'b')}, {"bytes", 1234}, {"content_type", "image/jpeg"}}));

  CaptureImages axle;
  axle.trigger = "axle";
  axle.axle_number = 2;
  axle.axle_key = "a-2";
  const auto a = capture_images_payload(axle);
  CHECK(a.at("axle") == json::value(json::object{{"number", 2}, {"idempotency_key", "a-2"}}));
  CHECK_FALSE(a.contains("weighing"));
  CHECK(a.at("attachments").as_array().empty());
}

TEST_CASE("anpr: a JSON plate event keeps the confidence as written and decodes the picture") {
  auto e = parse_plate_event(
      "application/json",
      R"({"plate":" kca 123a ","camera":"gate","confidence":92.50,"image_base64":"/9j/2Q=="})");
  REQUIRE(e.has_value());
  CHECK(e->plate == "KCA 123A");
  CHECK(e->camera == "gate");
  CHECK(e->confidence == "92.50");
  CHECK(e->jpeg == std::string("\xFF\xD8\xFF\xD9", 4));
  CHECK_FALSE(parse_plate_event("application/json", R"({"plate":"<script>"})").has_value());
  CHECK_FALSE(parse_plate_event("application/json", R"({"camera":"gate"})").has_value());
  CHECK_FALSE(parse_plate_event("text/plain", "KCA 123A").has_value());
}

TEST_CASE("anpr: a Hikvision multipart push gives the XML's plate and the JPEG part") {
  const std::string jpeg("\xFF\xD8\xFF\xE0picture\xFF\xD9", 13);
  const std::string body =
      "--MIME_boundary\r\n"
      "Content-Disposition: form-data; name=\"anpr.xml\"; filename=\"anpr.xml\"\r\n"
      "Content-Type: application/xml\r\n\r\n"
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
      "<EventNotificationAlert version=\"2.0\" xmlns=\"http://www.isapi.org/ver20/XMLSchema\">"
      "<eventType>ANPR</eventType><ANPR><country>KE</country>"
      "<licensePlate>KDA 456B</licensePlate><confidenceLevel>97</confidenceLevel></ANPR>"
      "</EventNotificationAlert>\r\n"
      "--MIME_boundary\r\n"
      "Content-Disposition: form-data; name=\"licensePlatePicture.jpg\"\r\n"
      "Content-Type: image/jpeg\r\n\r\n" +
      jpeg +
      "\r\n"
      "--MIME_boundary--\r\n";
  auto e = parse_plate_event("multipart/form-data; boundary=MIME_boundary", body);
  REQUIRE(e.has_value());
  CHECK(e->plate == "KDA 456B");
  CHECK(e->confidence == "97");
  CHECK(e->jpeg == jpeg);
  CHECK_FALSE(parse_plate_event("multipart/form-data", body).has_value());  // no boundary
}

TEST_CASE("camera retention: a file no record lists is swept, a listed or young one is kept") {
  using std::chrono::hours;
  const auto now = std::filesystem::file_time_type::clock::now();
  const std::vector<BlobFile> files = {{"a", now - hours(5)}, {"b", now - hours(5)}, {"c", now}};
  CHECK(unreferenced_images({"a"}, files, now, std::chrono::seconds(3600)) ==
        std::vector<std::string>{"b"});

  weighlink::testing::TempDir dir("wl-camera-retention");
  weighlink::sync::OutboxOptions options;
  options.station_id = "st-1";
  auto opened = weighlink::sync::Outbox::open(dir / "outbox.db", options);
  REQUIRE(opened.has_value());
  auto& outbox = **opened;
  const weighlink::sync::BlobStore blobs(dir / "blobs");
  const auto kept = blobs.put("listed image").value();
  const auto swept = blobs.put("image of a trimmed record").value();
  const auto young = blobs.put("image whose record is on its way").value();
  for (const auto& sha : {kept, swept}) {
    std::filesystem::last_write_time(blobs.path(sha), now - hours(2));
  }
  CaptureImages r;
  r.station_id = "st-1";
  r.scale = "main";
  r.weighing_seq = 1;
  r.weighing_key = "cap-1";
  r.images = {ImageEntry{"entry", true, kept, 12, "2026-12-07T10:00:00.000Z", {}}};
  weighlink::sync::NewMutation m;
  m.idempotency_key = images_key("cap-1");
  m.kind = std::string(kCaptureImagesKind);
  m.payload_json = weighlink::record::serialize_exact(capture_images_payload(r));
  m.request_hash = "h";
  REQUIRE(outbox.enqueue_wait(std::move(m)).status == weighlink::sync::EnqueueStatus::accepted);

  const auto result = sweep_images(outbox, blobs, std::chrono::seconds(3600));
  CHECK(result.error.empty());
  CHECK(result.files == 3);
  CHECK(result.removed == 1);
  CHECK(blobs.contains(kept));
  CHECK_FALSE(blobs.contains(swept));
  CHECK(blobs.contains(young));
  outbox.close();
}
