// Camera evidence on the operator page in headless Chromium against the real agent and a
// loopback camera: the weighing's still under its ticket, and a plate pushed by an ANPR camera
// offered beside the plate field, put there only when the operator takes it.
#include "page_fixture.hpp"
#include "weighlink/base/hash.hpp"
#include "weighlink/testing/camera_sim.hpp"

using namespace page_test;

TEST_CASE("operator page: the weighing's camera still shows under its ticket; ANPR is offered") {
  weighlink::testing::CameraSim cam(weighlink::testing::CameraSimOptions{"none"});
  cam.set_image(weighlink::testing::test_jpeg(11));
  StationOptions options;
  options.config = "cameras:\n  - {id: entry, url: 'http://" + cam.address() +
                   "/cgi-bin/snapshot.cgi'}\n"
                   "anpr:\n  listen: '127.0.0.1:0'\n  cameras:\n"
                   "    - {id: gate, source_ip: 127.0.0.1}\n";
  Station station(options);
  auto& page = station.browser();

  // A plate pushed: offered beside the plate field, the field left alone until taken.
  const auto intake = std::string(station.get("/v1/status").at("anpr").at("listen").as_string());
  auto pushed = http_request(intake, "POST", "/anpr", {{"Content-Type", "application/json"}},
                             R"({"plate":"KBZ 777C","camera":"gate"})");
  REQUIRE_MESSAGE(pushed.status == 200, pushed.body);
  REQUIRE(station.wait("document.querySelector('#anpr-offer') !== null"));
  CHECK(station.text("#anpr-offer").find("KBZ 777C") != std::string::npos);
  CHECK(page.evaluate("document.querySelector('#plate').value") == "");
  page.click("#anpr-offer button");
  CHECK(page.evaluate("document.querySelector('#plate').value") == "KBZ 777C");

  station.indicator().show("18240");
  REQUIRE(station.shows("18240", "stable"));
  page.press("F2");
  page.press("Enter");
  REQUIRE(weighlink::testing::eventually(
      [&] { return station.outbox("weighlink.capture_images").size() == 1; },
      std::chrono::seconds(15)));
  const auto seq = station.outbox("weighing.captured").back().at("seq").as_int64();
  const auto sha = weighlink::base::sha256_hex(cam.image());
  page.evaluate("openTicket(" + std::to_string(seq) + ")");
  REQUIRE(station.wait("document.querySelectorAll('#camera-images img').length === 1"));
  CHECK(page.evaluate("new URL(document.querySelector('#camera-images img').src).pathname") ==
        boost::json::value("/v1/images/" + sha));
  CHECK(station.text("#camera-images").find("entry " + sha.substr(0, 16)) != std::string::npos);
  CHECK_MESSAGE(page.exceptions().empty(), station.console());
}
