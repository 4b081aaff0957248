// weighlink-scale end to end: the real binary simulating, recording, replaying, decoding and
// probing over ptys and loopback TCP. Every process is reaped by its Process destructor.
#include <doctest/doctest.h>

#include <array>
#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "weighlink/scale/capture.hpp"
#include "weighlink/scale/encode.hpp"
#include "weighlink/scale/parser.hpp"
#include "weighlink/scale/simulate.hpp"
#include "weighlink/scale/source.hpp"
#include "weighlink/testing/process.hpp"

namespace json = boost::json;
namespace ws = weighlink::scale;
using namespace std::chrono_literals;
using weighlink::testing::bin;
using weighlink::testing::eventually;
using weighlink::testing::Process;
using weighlink::testing::run;
using weighlink::testing::TempDir;

namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Starts `weighlink-scale simulate ARGS --ready-file ...` and waits until it is up.
struct Simulator {
  std::unique_ptr<Process> process;
  std::map<std::string, std::string> ready;
  Simulator(const TempDir& dir, const std::string& name, std::vector<std::string> args) {
    const auto ready_file = dir / (name + ".ready");
    std::vector<std::string> argv{bin("weighlink-scale"), "simulate"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--ready-file", ready_file.string()});
    process = std::make_unique<Process>(argv, dir / (name + ".log"));
    ready = process->wait_ready(ready_file, 10s);
  }
};

// Reads a pty (or any serial path) until `protocol`'s parser has found `frames` frames in what
// was read (at most 30 s).
std::string read_frames(const std::string& path, const std::string& protocol,
                        std::uint64_t frames) {
  auto port = ws::open_serial(ws::SerialSource{path, {}});
  REQUIRE_MESSAGE(port, "open " << path << ": " << port.error().message());
  auto parser = ws::make_parser(protocol);
  REQUIRE(parser);
  std::string out;
  std::vector<ws::Reading> readings;
  const auto until = std::chrono::steady_clock::now() + 30s;
  char buf[1024];
  while (parser->stats().frames < frames && std::chrono::steady_clock::now() < until) {
    const auto n = (*port)->read(std::span<char>(buf, sizeof buf), 50ms);
    REQUIRE(n);
    out.append(buf, *n);
    parser->put(std::string_view(buf, *n), readings);
  }
  return out;
}

// The weights `protocol`'s parser finds in a capture file being written (a record still being
// written is left out).
std::vector<std::string> weights_in_capture(const std::filesystem::path& file,
                                            const std::string& protocol) {
  std::vector<std::string> weights;
  const auto capture = ws::parse_capture(read_file(file));
  if (!capture) return weights;
  auto parser = ws::make_parser(protocol);
  REQUIRE(parser);
  std::vector<ws::Reading> readings;
  parser->put(ws::capture_bytes(*capture), readings);
  parser->finish(readings);
  for (const auto& r : readings) weights.push_back(r.weight.to_string());
  return weights;
}

std::vector<json::object> decode(const std::string& protocol, const std::string& input,
                                 std::string* stderr_line = nullptr) {
  const auto result =
      run({bin("weighlink-scale"), "decode", "--protocol", protocol, "--input", input}, 30s);
  REQUIRE_MESSAGE(result.exit_code == 0, result.output);
  std::vector<json::object> readings;
  std::istringstream lines(result.output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with("{")) {
      readings.push_back(json::parse(line).as_object());
    } else if (stderr_line && line.starts_with("skipped")) {
      *stderr_line = line;
    }
  }
  return readings;
}

}  // namespace

TEST_CASE("scale tool: simulate then decode round trip for every protocol with an encoder") {
  TempDir dir("wl-scale-tool");
  int checked = 0;
  for (const auto& info : ws::protocols()) {
    if (!ws::make_encoder(info.id, true)) continue;
    const std::string id(info.id);
    CAPTURE(id);
    const auto link = (dir / ("scale-" + id)).string();
    // --poll never: polled protocols stream too, so a plain reader gets frames.
    Simulator sim(
        dir, "sim-" + id,
        {"--protocol", id, "--pty", link, "--rate", "50", "--weight", "32540", "--poll", "never"});
    const std::string bytes = read_frames(link, id, 4);
    sim.process->terminate();
    const auto raw = dir / (id + ".raw");
    std::ofstream(raw, std::ios::binary) << bytes;
    std::string summary;
    const auto readings = decode(id, raw.string(), &summary);
    REQUIRE_MESSAGE(readings.size() >= 3,
                    "decoded " << readings.size() << " from " << bytes.size() << " bytes");
    CHECK(summary.find(" 0 bad frames") != std::string::npos);
    for (const auto& r : readings) {
      CHECK(r.at("protocol").as_string() == id);
      CHECK(r.at("weight").as_string() == "32540");
    }
    ++checked;
  }
  CHECK(checked >= 2);
}

TEST_CASE("scale tool: record from a pty, then decode the capture file") {
  TempDir dir("wl-scale-tool");
  const auto link = (dir / "scale").string();
  Simulator sim(dir, "sim", {"--protocol", "mt-continuous", "--pty", link, "--rate", "20"});
  const auto capture_path = dir / "site.wlcap";
  // Recording until stopped (SIGTERM, as Ctrl-C), once the file holds 15 frames.
  Process rec({bin("weighlink-scale"), "record", "--port", link, "--out", capture_path.string()},
              dir / "record.log");
  REQUIRE_MESSAGE(
      eventually([&] { return weights_in_capture(capture_path, "mt-continuous").size() >= 15; },
                 30s),
      rec.log());
  CHECK(rec.terminate() == 0);
  const auto data = read_file(capture_path);
  REQUIRE(ws::is_capture(data));
  const auto capture = ws::parse_capture(data);
  REQUIRE(capture.has_value());
  CHECK_FALSE(capture->truncated);
  // The source as opened: the pty device behind the link.
  CHECK(json::parse(capture->header_json)
            .as_object()
            .at("source")
            .as_string()
            .starts_with("serial "));
  // Offsets grow from record to record.
  for (std::size_t i = 1; i < capture->records.size(); ++i) {
    CHECK(capture->records[i].offset >= capture->records[i - 1].offset);
  }
  const auto readings = decode("mt-continuous", capture_path.string());
  CHECK(readings.size() >= 15);
  for (const auto& r : readings) CHECK(r.at("weight").as_string() == "32540");
}

TEST_CASE("scale tool: replay sends each frame at its time in the capture (recorded over TCP)") {
  TempDir dir("wl-scale-tool");
  // Two frames 400 ms apart, then one an hour into the capture.
  const auto original = dir / "original.wlcap";
  {
    std::ofstream out(original, std::ios::binary);
    out << ws::encode_capture_header(R"({"source":"test"})");
    const std::array<std::chrono::milliseconds, 3> offsets{0ms, 400ms, 1h};
    for (std::size_t i = 0; i < offsets.size(); ++i) {
      ws::DisplayState s;
      s.weight = ws::Decimal{1000 + 20 * static_cast<std::int64_t>(i), 0};
      s.tare = ws::Decimal{0, 0};
      out << ws::encode_capture_record(offsets[i], ws::encode_mt_continuous(s, true));
    }
  }
  Simulator sim(dir, "replay", {"--replay", original.string(), "--tcp-listen", "127.0.0.1:0"});
  const auto again = dir / "again.wlcap";
  // The replay starts when this client connects; the recording ends when the server closes.
  Process rec(
      {bin("weighlink-scale"), "record", "--tcp", sim.ready.at("tcp"), "--out", again.string()},
      dir / "record.log");
  REQUIRE_MESSAGE(
      eventually([&] { return weights_in_capture(again, "mt-continuous").size() >= 2; }, 20s),
      rec.log());
  // Stopped now, the simulator closes the connection: everything it sent before is in the
  // recording when the recorder ends. The frame an hour in was not sent ahead of its time.
  CHECK(sim.process->terminate() == 0);
  REQUIRE(eventually([&] { return !rec.running(); }, 10s));
  CHECK(rec.poll() == 0);
  CHECK(weights_in_capture(again, "mt-continuous") == std::vector<std::string>{"1000", "1020"});
  const auto readings = decode("mt-continuous", again.string());
  REQUIRE(readings.size() == 2);
  CHECK(readings[1].at("weight").as_string() == "1020");
}

TEST_CASE("scale tool: tcp-listen streams to every loopback client") {
  TempDir dir("wl-scale-tool");
  Simulator sim(dir, "tcp",
                {"--protocol", "mt-continuous", "--tcp-listen", "127.0.0.1:0", "--rate", "20",
                 "--weight", "7.650"});
  const auto address = sim.ready.at("tcp");
  CHECK(address.starts_with("127.0.0.1:"));
  const auto a = dir / "a.wlcap";
  const auto b = dir / "b.wlcap";
  Process first(
      {bin("weighlink-scale"), "record", "--tcp", address, "--out", a.string(), "--duration", "1"},
      dir / "a.log");
  const auto second = run(
      {bin("weighlink-scale"), "record", "--tcp", address, "--out", b.string(), "--duration", "1"},
      20s);
  REQUIRE_MESSAGE(second.exit_code == 0, second.output);
  REQUIRE(eventually([&] { return !first.running(); }, 10s));
  for (const auto& file : {a, b}) {
    const auto readings = decode("mt-continuous", file.string());
    CHECK(readings.size() >= 5);
    for (const auto& r : readings) CHECK(r.at("weight").as_string() == "7.650");
  }
}

TEST_CASE("scale tool: probe identifies the protocol a simulator speaks on a pty") {
  TempDir dir("wl-scale-tool");
  // A streaming protocol, and a polled one that answers only when asked.
  std::vector<std::string> ids{"mt-continuous"};
  if (!ws::poll_command("mt-sics").empty() && ws::make_encoder("mt-sics", true)) {
    ids.emplace_back("mt-sics");
  }
  for (const auto& id : ids) {
    CAPTURE(id);
    const auto link = (dir / ("probe-" + id)).string();
    Simulator sim(dir, "sim-" + id,
                  {"--protocol", id, "--pty", link, "--rate", "10", "--profile", "noise"});
    const auto result =
        run({bin("weighlink-scale"), "probe", "--port", link, "--seconds", "1", "--json"}, 120s);
    REQUIRE_MESSAGE(result.exit_code == 0, result.output);
    const auto brace = result.output.find("{\"");
    REQUIRE(brace != std::string::npos);
    const auto report = json::parse(result.output.substr(brace)).as_object();
    const auto& best = report.at("best").as_object();
    CHECK(best.at("protocol").as_string() == id);
    CHECK(best.at("confidence").as_double() >= 0.9);
  }
}

TEST_CASE("scale tool: decode of a capture is byte-identical to decode of its raw bytes") {
  TempDir dir("wl-scale-tool");
  ws::DisplayState s;
  s.weight = ws::Decimal{32540, 0};
  s.tare = ws::Decimal{0, 0};
  const std::string frame = ws::encode_mt_continuous(s, true);
  const auto raw = dir / "raw.bin";
  const auto cap = dir / "cap.wlcap";
  std::ofstream(raw, std::ios::binary) << "junk" << frame << frame.substr(0, 7);
  {
    std::ofstream out(cap, std::ios::binary);
    out << ws::encode_capture_header("{}")
        << ws::encode_capture_record(0ms, "junk" + frame.substr(0, 5))
        << ws::encode_capture_record(10ms, frame.substr(5) + frame.substr(0, 7));
  }
  std::string raw_summary;
  std::string cap_summary;
  const auto from_raw = decode("mt-continuous", raw.string(), &raw_summary);
  const auto from_cap = decode("mt-continuous", cap.string(), &cap_summary);
  REQUIRE(from_raw.size() == 1);
  CHECK(from_raw == from_cap);
  CHECK(raw_summary == cap_summary);
}
