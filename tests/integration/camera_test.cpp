// Camera evidence with the real agent and a loopback snapshot camera (camera_sim.hpp): the
// images of a capture recorded as weighlink.capture_images with their sha256, a camera absent,
// unplugged, too slow or refusing the password recorded as missing with the reason, the capture
// never waiting for a camera, and an image altered on disk found by verify-evidence.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <fstream>

#include "agent_fixture.hpp"
#include "weighlink/base/base64.hpp"
#include "weighlink/base/hash.hpp"
#include "weighlink/testing/camera_sim.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using namespace weighlink::testing;  // NOLINT(google-build-using-namespace)

namespace {

const std::string kCapture = R"({"scale":"main","operator":"op-7","timeout_ms":3000})";

// Scale main on the pty and the cameras (YAML list items) with the password in dir/cam.pass.
std::string camera_config(const TempDir& dir, const PtyScale& pty, const std::string& cameras,
                          const std::string& password = "cam-pass") {
  std::ofstream(dir / "cam.pass") << password << "\n";
  std::filesystem::permissions(
      dir / "cam.pass", std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  return "scales:\n  - {id: main, source: 'serial:" + pty.path() +
         "', protocol: mt-continuous}\ncameras:\n" + cameras;
}

std::string camera_item(const std::string& id, const std::string& address, const TempDir& dir,
                        const std::string& extra = "") {
  return "  - {id: " + id + ", type: http, url: 'http://" + address +
         "/ISAPI/Streaming/channels/101/picture', username: admin, password_file: '" +
         (dir / "cam.pass").string() + "', auth: auto" + extra + "}\n";
}

// The payload of the images record with `key`, once the agent has written it.
json::object images_record(const std::string& http, const std::string& key,
                           std::int64_t* seq = nullptr) {
  json::object found;
  REQUIRE_MESSAGE(eventually(
                      [&] {
                        for (const auto& row : outbox_rows(http)) {
                          if (row.at("idempotency_key") == json::value(key)) {
                            CHECK(row.at("kind") == "weighlink.capture_images");
                            found = row.at("payload").as_object();
                            if (seq) *seq = row.at("seq").as_int64();
                            return true;
                          }
                        }
                        return false;
                      },
                      20s),
                  "no images record " << key);
  return found;
}

json::object camera_health(const std::string& http, const std::string& id) {
  const auto status = agent_status(http);
  for (const auto& d : status.at("devices").as_array()) {
    if (d.at("id") == json::value(id)) return d.as_object();
  }
  FAIL("no device " << id << " in /v1/status");
  return {};
}

}  // namespace

TEST_CASE("camera: a capture's images are recorded with their sha256, then the camera unplugged") {
  TempDir dir("wl-camera");
  PtyScale pty(dir / "scale");
  StreamingScale scale(pty, mt_frame("14200"));
  CameraSim cam;
  cam.set_image(test_jpeg(7));
  AgentProcess agent(dir, {}, camera_config(dir, pty, camera_item("entry", cam.address(), dir)));

  auto r = post_json(agent.http, "/v1/captures", "cap-1", kCapture);
  REQUIRE_MESSAGE(r.status == 202, r.body);
  const auto weighing_seq = body_of(r).at("seq").as_int64();
  std::int64_t images_seq = 0;
  auto p = images_record(agent.http, "cap-1:images", &images_seq);
  CHECK(images_seq > weighing_seq);
  CHECK(p.at("station_id") == "st-1");
  CHECK(p.at("scale") == "main");
  CHECK(p.at("trigger") == "capture");
  CHECK(p.at("weighing").at("seq") == weighing_seq);
  CHECK(p.at("weighing").at("idempotency_key") == "cap-1");
  const auto jpeg = cam.image();
  const auto sha = weighlink::base::sha256_hex(jpeg);
  const auto& img = p.at("images").at(0).as_object();
  CHECK(img.at("camera") == "entry");
  CHECK(img.at("status") == "ok");
  CHECK(img.at("sha256") == json::value(sha));
  CHECK(img.at("bytes") == static_cast<std::int64_t>(jpeg.size()));
  CHECK(img.at("content_type") == "image/jpeg");
  CHECK(p.at("attachments").at(0).at("sha256") == json::value(sha));
  // The file is in the BlobStore, served to the page, and found from the weighing.
  CHECK(std::filesystem::exists(dir / "data" / "blobs" / sha.substr(0, 2) / sha));
  auto served = http_request(agent.http, "GET", "/v1/images/" + sha);
  CHECK(served.status == 200);
  CHECK(served.body == jpeg);
  auto linked = body_of(
      http_request(agent.http, "GET", "/v1/weighings/" + std::to_string(weighing_seq) + "/images"));
  CHECK(linked.at("taken") == true);
  CHECK(linked.at("images").at(0).at("sha256") == json::value(sha));
  // The ticket lists the image and its PDF shows it.
  const auto ticket =
      body_of(http_request(agent.http, "GET", "/v1/tickets/" + std::to_string(weighing_seq)));
  CHECK(ticket.at("images").at(0).at("camera") == "entry");
  CHECK(ticket.at("images").at(0).at("sha_prefix") == json::value(sha.substr(0, 16)));
  const auto pdf =
      http_request(agent.http, "GET", "/v1/tickets/" + std::to_string(weighing_seq) + ".pdf");
  CHECK(pdf.status == 200);
  CHECK(pdf.body.find("/Cam1") != std::string::npos);
  CHECK(pdf.body.find(jpeg) != std::string::npos);
  CHECK(pdf.body.find("entry  sha256 " + sha.substr(0, 16)) != std::string::npos);
  auto health = camera_health(agent.http, "entry");
  CHECK(health.at("kind") == "camera");
  CHECK(health.at("state") == "ok");
  CHECK(health.at("last_image_sha256") == json::value(sha));
  // A retry of the capture is not a second weighing: no second images record.
  CHECK(post_json(agent.http, "/v1/captures", "cap-1", kCapture).status == 200);

  // Unplugged between two captures: the next weighing is recorded, its image is missing.
  cam.stop();
  return_to_zero(scale, agent.http, "15100");
  auto r2 = post_json(agent.http, "/v1/captures", "cap-2", kCapture);
  REQUIRE_MESSAGE(r2.status == 202, r2.body);
  auto p2 = images_record(agent.http, "cap-2:images");
  INFO(json::serialize(camera_health(agent.http, "entry")));
  CHECK(p2.at("images").at(0).at("status") == "missing");
  CHECK(p2.at("images").at(0).at("reason") == "connection refused");
  CHECK(p2.at("attachments").as_array().empty());
  CHECK(camera_health(agent.http, "entry").at("state") == "offline");
  const auto metrics = http_request(agent.http, "GET", "/metrics").body;
  CHECK(metrics.find("weighlink_camera_shots_total{camera=\"entry\",result=\"ok\"} 1") !=
        std::string::npos);
  CHECK(metrics.find("weighlink_device_up{device=\"entry\",kind=\"camera\"} 0") !=
        std::string::npos);
  int images_records = 0;
  for (const auto& row : outbox_rows(agent.http)) {
    if (row.at("kind") == "weighlink.capture_images") ++images_records;
  }
  CHECK(images_records == 2);
}

TEST_CASE("camera: absent from the start, slow past its deadline, wrong password: missing") {
  TempDir dir("wl-camera-missing");
  PtyScale pty(dir / "scale");
  StreamingScale scale(pty, mt_frame("9000"));
  CameraSim slow;
  CameraSim strict(CameraSimOptions{"digest", "SHA-256", "admin", "the-right-one", "cam"});
  const std::string cameras = camera_item("absent", closed_address(), dir) +
                              camera_item("slow", slow.address(), dir, ", deadline_ms: 500") +
                              camera_item("strict", strict.address(), dir);
  AgentProcess agent(dir, {}, camera_config(dir, pty, cameras));

  slow.hold();
  auto r = post_json(agent.http, "/v1/captures", "cap-1", kCapture);
  REQUIRE_MESSAGE(r.status == 202, r.body);
  // Answered while the slow camera still holds its answer: nothing was served before the 202.
  CHECK(slow.served() == 0);
  REQUIRE(eventually([&] { return slow.held() == 1; }, 10s));
  auto p = images_record(agent.http, "cap-1:images");
  std::map<std::string, std::string> reasons;
  for (const auto& i : p.at("images").as_array()) {
    CHECK(i.at("status") == "missing");
    reasons[std::string(i.at("camera").as_string())] = std::string(i.at("reason").as_string());
  }
  CHECK(reasons["absent"] == "connection refused");
  CHECK(reasons["slow"] == "deadline");
  CHECK(reasons["strict"] == "http 401");
  CHECK(strict.refused() >= 1);
  CHECK(p.at("attachments").as_array().empty());
  slow.release();
  CHECK(camera_health(agent.http, "strict").at("state") == "error");
  CHECK(camera_health(agent.http, "absent").at("state") == "offline");
}

TEST_CASE("camera: an image altered after the capture fails verify-evidence, naming it") {
  TempDir dir("wl-camera-altered");
  PtyScale pty(dir / "scale");
  StreamingScale scale(pty, mt_frame("12000"));
  CameraSim cam(CameraSimOptions{"basic", "MD5", "admin", "cam-pass", "cam"});
  cam.set_image(test_jpeg(3));
  std::int64_t seq = 0;
  std::string sha;
  {
    AgentProcess agent(dir, {}, camera_config(dir, pty, camera_item("entry", cam.address(), dir)));
    REQUIRE(post_json(agent.http, "/v1/captures", "cap-1", kCapture).status == 202);
    auto p = images_record(agent.http, "cap-1:images", &seq);
    REQUIRE(p.at("images").at(0).at("status") == "ok");
    sha = std::string(p.at("images").at(0).at("sha256").as_string());
    auto verified =
        body_of(http_request(agent.http, "GET", "/v1/records/" + std::to_string(seq) + "/verify"));
    CHECK(verified.at("ok") == true);
    CHECK(verified.at("attachments_ok") == true);

    // Someone with access to the station PC swaps the picture.
    const auto file = dir / "data" / "blobs" / sha.substr(0, 2) / sha;
    std::filesystem::permissions(file, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add);
    std::ofstream(file, std::ios::binary | std::ios::trunc) << test_jpeg(4);
    auto after =
        body_of(http_request(agent.http, "GET", "/v1/records/" + std::to_string(seq) + "/verify"));
    CHECK(after.at("ok") == false);
    CHECK(after.at("attachments_ok") == false);
    CHECK(after.at("problems").at(0).at("code") == "attachment_altered");
    CHECK(http_request(agent.http, "GET", "/v1/images/" + sha).status == 409);
  }
  auto tool = run({bin("weighlink-agent"), "verify-evidence", "--json", "--data-dir",
                   (dir / "data").string(), "--station-id", "st-1"},
                  30s);
  INFO(tool.output);
  CHECK(tool.exit_code == 3);
  CHECK(tool.output.find("attachment_altered") != std::string::npos);
  CHECK(tool.output.find(sha) != std::string::npos);
  CHECK(tool.output.find("\"seq\":" + std::to_string(seq)) != std::string::npos);

  // Removed altogether: missing.
  std::filesystem::remove(dir / "data" / "blobs" / sha.substr(0, 2) / sha);
  auto gone = run({bin("weighlink-agent"), "verify-evidence", "--data-dir", (dir / "data").string(),
                   "--station-id", "st-1"},
                  30s);
  CHECK(gone.exit_code == 3);
  CHECK(gone.output.find("attachment_missing") != std::string::npos);
}

TEST_CASE("anpr: a pushed plate is offered for the next weighing, never applied") {
  TempDir dir("wl-anpr");
  PtyScale pty(dir / "scale");
  StreamingScale scale(pty, mt_frame("11000"));
  std::ofstream(dir / "gate.token") << "gate-secret\n";
  std::filesystem::permissions(
      dir / "gate.token", std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  const std::string config = "scales:\n  - {id: main, source: 'serial:" + pty.path() +
                             "', protocol: mt-continuous}\n"
                             "anpr:\n  listen: '127.0.0.1:0'\n  cameras:\n"
                             "    - {id: gate, source_ip: 127.0.0.1, scale: main, token_file: '" +
                             (dir / "gate.token").string() + "'}\n";
  AgentProcess agent(dir, {}, config);
  const auto intake = std::string(agent_status(agent.http).at("anpr").at("listen").as_string());
  const auto picture = test_jpeg(9);
  const std::string event = R"({"plate":"kca 123a","confidence":91.5,"image_base64":")" +
                            weighlink::base::base64(std::string_view(picture)) + "\"}";
  auto refused = http_request(
      intake, "POST", "/anpr",
      {{"Content-Type", "application/json"}, {"Authorization", "Bearer wrong"}}, event);
  CHECK(refused.status == 401);
  CHECK(http_request(agent.http, "GET", "/v1/anpr/latest?scale=main").status == 404);

  auto pushed = http_request(
      intake, "POST", "/anpr",
      {{"Content-Type", "application/json"}, {"Authorization", "Bearer gate-secret"}}, event);
  REQUIRE_MESSAGE(pushed.status == 200, pushed.body);
  json::object offer;
  REQUIRE(eventually(
      [&] {
        auto r = http_request(agent.http, "GET", "/v1/anpr/latest?scale=main");
        if (r.status != 200) return false;
        offer = body_of(r);
        return true;
      },
      10s));
  CHECK(offer.at("plate") == "KCA 123A");
  CHECK(offer.at("camera") == "gate");
  CHECK(offer.at("confidence") == "91.5");
  const auto sha = weighlink::base::sha256_hex(picture);
  CHECK(offer.at("image_sha256") == json::value(sha));
  CHECK(http_request(agent.http, "GET", "/v1/images/" + sha).body == picture);
  CHECK(agent_status(agent.http).at("anpr").at("offers").as_array().size() == 1);

  // The operator weighs without taking it: the record has no plate, and the offer is gone.
  auto r = post_json(agent.http, "/v1/captures", "cap-1", kCapture);
  REQUIRE_MESSAGE(r.status == 202, r.body);
  const auto weighing = body_of(http_request(
      agent.http, "GET", "/v1/records/" + std::to_string(body_of(r).at("seq").as_int64())));
  CHECK(json::serialize(weighing.at("payload")).find("KCA") == std::string::npos);
  CHECK(eventually(
      [&] { return http_request(agent.http, "GET", "/v1/anpr/latest?scale=main").status == 404; },
      10s));

  // Hikvision's form: multipart with the XML and the picture, the token as the Basic password.
  const std::string body =
      "--b0undary\r\nContent-Type: application/xml\r\n\r\n"
      "<EventNotificationAlert><ANPR><licensePlate>KDD 900X</licensePlate>"
      "<confidenceLevel>88</confidenceLevel></ANPR></EventNotificationAlert>\r\n"
      "--b0undary\r\nContent-Type: image/jpeg\r\n\r\n" +
      picture + "\r\n--b0undary--\r\n";
  auto hik =
      http_request(intake, "POST", "/ISAPI/Event/notification/alertStream",
                   {{"Content-Type", "multipart/form-data; boundary=b0undary"},
                    {"Authorization",
                     "Basic " + weighlink::base::base64(std::string_view("admin:gate-secret"))}},
                   body);
  REQUIRE_MESSAGE(hik.status == 200, hik.body);
  REQUIRE(eventually(
      [&] { return http_request(agent.http, "GET", "/v1/anpr/latest").status == 200; }, 10s));
  const auto second = body_of(http_request(agent.http, "GET", "/v1/anpr/latest"));
  CHECK(second.at("plate") == "KDD 900X");
  CHECK(second.at("confidence") == "88");
  CHECK(second.at("image_sha256") == json::value(sha));
}

TEST_CASE("anpr: a push from an address that is not a configured camera is refused") {
  TempDir dir("wl-anpr-source");
  const std::string config =
      "anpr:\n  listen: '127.0.0.1:0'\n  cameras:\n    - {id: gate, source_ip: 192.0.2.7}\n";
  AgentProcess agent(dir, {"--scale-source", "sim:static"}, config);
  const auto intake = std::string(agent_status(agent.http).at("anpr").at("listen").as_string());
  auto r = http_request(intake, "POST", "/anpr", {{"Content-Type", "application/json"}},
                        R"({"plate":"KCA 123A"})");
  CHECK(r.status == 403);
  CHECK(body_of(r).at("error") == "unknown_source");
  CHECK(body_of(r).at("message").as_string().find("127.0.0.1") != std::string::npos);
  CHECK(http_request(agent.http, "GET", "/v1/anpr/latest").status == 404);
}

TEST_CASE("camera: with on_axles every axle gets its still, and the completed weighing its own") {
  TempDir dir("wl-camera-axles");
  PtyScale pty(dir / "scale");
  StreamingScale scale(pty, mt_frame("6100"));
  CameraSim cam;
  AgentProcess agent(
      dir, {},
      camera_config(dir, pty, camera_item("side", cam.address(), dir, ", on_axles: true")));
  const std::string axles = "/v1/axle-sessions/main";
  REQUIRE(post_json(agent.http, axles + "/start", "", R"({"expected_axles":2})").status == 200);
  auto a1 = post_json(agent.http, axles + "/axles", "a-1", "{}");
  REQUIRE_MESSAGE(a1.status == 200, a1.body);
  scale.set(mt_frame("8200"));
  auto a2 = post_json(agent.http, axles + "/axles", "a-2", "{}");
  REQUIRE_MESSAGE(a2.status == 200, a2.body);
  auto done = post_json(agent.http, axles + "/complete", "axle-1", R"({"operator":"op-7"})");
  REQUIRE_MESSAGE(done.status == 202, done.body);

  for (int n = 1; n <= 2; ++n) {
    const auto key = "a-" + std::to_string(n);
    auto p = images_record(agent.http, key + ":images");
    CHECK(p.at("trigger") == "axle");
    CHECK(p.at("axle").at("number") == n);
    CHECK(p.at("axle").at("idempotency_key") == json::value(key));
    CHECK_FALSE(p.contains("weighing"));
    CHECK(p.at("images").at(0).at("status") == "ok");
  }
  auto w = images_record(agent.http, "axle-1:images");
  CHECK(w.at("trigger") == "capture");
  CHECK(w.at("weighing").at("seq") == body_of(done).at("seq"));
  CHECK(cam.served() == 3);
  // The weighing's record lists its axles' images records, and the weighing's images (the page's
  // and the ticket's) hold the completed weighing's still and each axle's, numbered.
  REQUIRE(w.at("axle_images").as_array().size() == 2);
  CHECK(w.at("axle_images").at(1).at("number") == 2);
  CHECK(w.at("axle_images").at(1).at("images_key") == "a-2:images");
  const auto seq = std::to_string(body_of(done).at("seq").to_number<std::uint64_t>());
  const auto shown = body_of(http_request(agent.http, "GET", "/v1/weighings/" + seq + "/images"));
  const auto& images = shown.at("images").as_array();
  REQUIRE(images.size() == 3);
  CHECK_FALSE(images.at(0).as_object().contains("axle"));
  CHECK(images.at(1).at("axle") == 1);
  CHECK(images.at(2).at("axle") == 2);
  CHECK(images.at(2).at("status") == "ok");
  const auto ticket = body_of(http_request(agent.http, "GET", "/v1/tickets/" + seq));
  const auto ticket_text = json::serialize(ticket.at("images"));
  CHECK(ticket_text.find("side #1") != std::string::npos);
  CHECK(ticket_text.find("side #2") != std::string::npos);
}
