// The camera's RTSP still (agent/src/devices/camera/rtsp_grab.cpp, FFmpeg's libraries) against a
// real RTSP stream: FFmpeg encodes a test picture as H.264 and publishes it to a loopback RTSP
// server (tests/support, rtsp_server.hpp) that serves it to the grab over TCP. The grab is called
// directly: it is the camera component's adapter, tested here without an agent around it.
#include "devices/camera/rtsp_grab.hpp"

#include <doctest/doctest.h>

#include <cstring>

#include "devices/lazy_library.hpp"
#include "weighlink/testing/process.hpp"
#include "weighlink/testing/rtsp_server.hpp"

using namespace std::chrono_literals;
using weighlink::agent::camera::grab_rtsp_jpeg;
using weighlink::testing::eventually;
using weighlink::testing::Process;
using weighlink::testing::RtspServer;
using weighlink::testing::TempDir;

namespace {

// ffmpeg publishing a moving test picture (H.264, a key frame every second) to `url`.
std::unique_ptr<Process> publish(const std::string& url, const TempDir& dir) {
  return std::make_unique<Process>(std::vector<std::string>{"/usr/bin/ffmpeg",
                                                            "-hide_banner",
                                                            "-loglevel",
                                                            "error",
                                                            "-re",
                                                            "-f",
                                                            "lavfi",
                                                            "-i",
                                                            "testsrc=size=320x240:rate=10",
                                                            "-c:v",
                                                            "libx264",
                                                            "-preset",
                                                            "ultrafast",
                                                            "-tune",
                                                            "zerolatency",
                                                            "-g",
                                                            "10",
                                                            "-bf",
                                                            "0",
                                                            "-pix_fmt",
                                                            "yuv420p",
                                                            "-f",
                                                            "rtsp",
                                                            "-rtsp_transport",
                                                            "tcp",
                                                            url},
                                   dir / "ffmpeg.log");
}

}  // namespace

TEST_CASE("rtsp still: one JPEG frame from an H.264 stream over RTSP/TCP") {
  REQUIRE_MESSAGE(std::filesystem::exists("/usr/bin/ffmpeg"), "ffmpeg is missing: run make deps");
  TempDir dir;
  RtspServer server;
  auto ffmpeg = publish(server.url(), dir);
  REQUIRE_MESSAGE(eventually([&] { return server.published_packets() > 0; }, 20s),
                  weighlink::testing::read_file(dir / "ffmpeg.log"));

  const auto jpeg = grab_rtsp_jpeg(server.url(), 10s);
  REQUIRE_MESSAGE(jpeg.has_value(), (jpeg ? std::string() : jpeg.error().message));
  const std::string& bytes = *jpeg;
  // A whole JPEG (SOI ... EOI) of a plausible size for a 320x240 picture.
  REQUIRE(bytes.size() > 2000);
  CHECK(bytes.size() < 320 * 240 * 3);
  CHECK(static_cast<unsigned char>(bytes[0]) == 0xFF);
  CHECK(static_cast<unsigned char>(bytes[1]) == 0xD8);
  CHECK(static_cast<unsigned char>(bytes[bytes.size() - 2]) == 0xFF);
  CHECK(static_cast<unsigned char>(bytes[bytes.size() - 1]) == 0xD9);
  // The frame's size is in its SOF0 marker: 240 lines of 320 pixels.
  const auto sof = bytes.find("\xFF\xC0");
  REQUIRE(sof != std::string::npos);
  CHECK(((static_cast<unsigned char>(bytes[sof + 5]) << 8) |
         static_cast<unsigned char>(bytes[sof + 6])) == 240);
  CHECK(((static_cast<unsigned char>(bytes[sof + 7]) << 8) |
         static_cast<unsigned char>(bytes[sof + 8])) == 320);
}

TEST_CASE("rtsp still: a camera that accepts and never answers is given up at the deadline") {
  RtspServer silent(RtspServer::Mode::silent);
  const auto jpeg = grab_rtsp_jpeg("rtsp://user:secret@" + silent.address() + "/cam", 700ms);
  REQUIRE_FALSE(jpeg.has_value());
  CHECK(jpeg.error().code == std::errc::timed_out);
  CHECK(jpeg.error().message.find("deadline of 700 ms") != std::string::npos);
  CHECK(jpeg.error().message.find("secret") == std::string::npos);  // no password in messages
  CHECK(eventually([&] { return silent.connections() == 1; }, 10s));
}

TEST_CASE("rtsp still: a refused connection is an error naming the camera") {
  const auto address = weighlink::testing::free_loopback_address();
  const auto jpeg = grab_rtsp_jpeg("rtsp://" + address + "/cam", 3s);
  REQUIRE_FALSE(jpeg.has_value());
  CHECK(jpeg.error().code == std::errc::connection_refused);
  CHECK(jpeg.error().message.find(address) != std::string::npos);
}

TEST_CASE(
    "lazy libraries: a library that cannot be loaded, or lacks a function, is an error that "
    "says what to install") {
  using weighlink::agent::devices::LazyLibraries;
  const auto absent =
      LazyLibraries::open({"libweighlink-absent.so.9"}, "RTSP camera stills", "libabsent9");
  REQUIRE_FALSE(absent.has_value());
  CHECK(absent.error().code == std::errc::function_not_supported);  // the camera's "not supported"
  CHECK(absent.error().message.find("RTSP camera stills need libweighlink-absent.so.9") !=
        std::string::npos);
  CHECK(absent.error().message.find("install libabsent9") != std::string::npos);

  auto libc = LazyLibraries::open({"libc.so.6"}, "tests", "libc6");
  REQUIRE(libc.has_value());
  decltype(&std::strlen) length = nullptr;
  libc->resolve(length, "strlen");
  REQUIRE(static_cast<bool>(length));
  CHECK(length("four") == 4);
  CHECK_FALSE(libc->missing().has_value());
  decltype(&std::strlen) nothing = nullptr;
  libc->resolve(nothing, "weighlink_no_such_function");
  CHECK_FALSE(static_cast<bool>(nothing));
  REQUIRE(libc->missing().has_value());
  CHECK(libc->missing()->message.find("weighlink_no_such_function") != std::string::npos);
}
