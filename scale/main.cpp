// weighlink-scale: indicator tools (SPEC §3). Thin: flags in, library calls, exit code out.
// Exit codes: 0 ok, 1 operational failure, 2 bad usage.

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/json/object.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "weighlink/base/guarded_main.hpp"
#include "weighlink/base/ready_file.hpp"
#include "weighlink/scale/capture.hpp"
#include "weighlink/scale/parser.hpp"
#include "weighlink/scale/probe.hpp"
#include "weighlink/scale/record.hpp"
#include "weighlink/scale/simulate.hpp"

namespace {

namespace ws = weighlink::scale;

constexpr int kOk = 0;
constexpr int kFailure = 1;
constexpr int kUsage = 2;

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop = true; }

int fail(int code, const std::string& message) {
  std::cerr << "weighlink-scale: " << message << '\n';
  return code;
}

int cmd_protocols() {
  for (const auto& p : ws::protocols()) std::cout << p.id << '\t' << p.description << '\n';
  return kOk;
}

struct DecodeArgs {
  std::string protocol;
  std::string input = "-";
  std::string unit = "kg";
  int decimals = -1;
  std::string checksum = "auto";
};

// Feeds `data` (a capture file's records, or raw bytes) to the parser, printing as it goes.
void decode_bytes(ws::Parser& parser, std::string_view data, std::vector<ws::Reading>& readings) {
  parser.put(data, readings);
  for (const auto& r : readings) std::cout << ws::to_json_line(r, false) << '\n';
  readings.clear();
}

int cmd_decode(const DecodeArgs& args) {
  ws::ParserOptions options;
  options.unit = args.unit;
  options.decimals = args.decimals;
  options.checksum = args.checksum == "required" ? ws::ChecksumMode::required
                     : args.checksum == "absent" ? ws::ChecksumMode::absent
                                                 : ws::ChecksumMode::auto_detect;
  auto parser = ws::make_parser(args.protocol, options);
  if (!parser) {
    return fail(kUsage, "unknown protocol '" + args.protocol +
                            "'; run `weighlink-scale protocols` to list them");
  }
  std::ifstream file;
  std::istream* in = &std::cin;
  const std::string name = args.input == "-" ? std::string("stdin") : args.input;
  if (args.input != "-") {
    file.open(args.input, std::ios::binary);
    if (!file) {
      return fail(kFailure, "cannot open input " + args.input + ": " + std::strerror(errno) +
                                "; check the path, or pass --input - to read stdin");
    }
    in = &file;
  }
  std::vector<char> buffer(std::size_t{64} * 1024);
  std::vector<ws::Reading> readings;
  // The first bytes tell a capture file (record) from raw bytes.
  std::string head(ws::kCaptureMagic.size(), '\0');
  in->read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in->gcount()));
  if (ws::is_capture(head)) {
    std::ostringstream rest;
    rest << in->rdbuf();
    const auto capture = ws::parse_capture(head + rest.str());
    if (!capture) {
      return fail(kFailure,
                  name + ": " + capture.error().message + "; the capture file is damaged");
    }
    if (capture->truncated) std::cerr << "capture ends inside a record; the rest was decoded\n";
    for (const auto& record : capture->records) decode_bytes(*parser, record.bytes, readings);
  } else {
    decode_bytes(*parser, head, readings);
    while (*in) {
      in->read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      const auto got = in->gcount();
      if (got > 0) {
        decode_bytes(*parser, std::string_view(buffer.data(), static_cast<std::size_t>(got)),
                     readings);
      }
    }
    if (in->bad()) return fail(kFailure, "reading " + name + " failed; check the file is readable");
  }
  parser->finish(readings);
  decode_bytes(*parser, {}, readings);
  std::cout.flush();
  const auto& stats = parser->stats();
  std::cerr << "skipped " << stats.skipped_bytes << " bytes, " << stats.bad_frames
            << " bad frames\n";
  return std::cout ? kOk : kFailure;
}

void install_signals() {
#ifdef _WIN32
  // Ctrl-C and Ctrl-Break in a console; no SIGPIPE (a closed socket is an error return).
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGBREAK, on_signal);
#else
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
#endif
}

// Writes `fields` as a JSON object of strings (base::write_ready_file), for tests and scripts that
// wait for the tool to be ready; says so on stderr when it cannot.
void write_ready_file(const std::string& path, const std::map<std::string, std::string>& fields) {
  if (path.empty()) return;
  boost::json::object o;
  for (const auto& [k, v] : fields) o[k] = v;
  if (const auto written = weighlink::base::write_ready_file(path, o); !written) {
    std::cerr << "weighlink-scale: " << written.error().message << "\n";
  }
}

struct SerialArgs {
  int baud = 9600;
  std::string format = "8N1";  // data bits, parity, stop bits
};

bool apply_serial(const SerialArgs& args, ws::SerialSettings& s) {
  if (!ws::parse_serial_format(args.format, s)) return false;
  s.baud = args.baud;
  return true;
}

struct SimulateArgs {
  ws::SimulateConfig config;
  std::string pty;
  SerialArgs serial;
  std::string weight = "32540";
  std::string ready_file;
  bool no_checksum = false;
};

int cmd_simulate(SimulateArgs& args) {
  const auto weight = ws::Decimal::parse(args.weight);
  if (!weight || weight->units < 0) {
    return fail(kUsage, "--weight '" + args.weight + "' is not a weight like 32540 or 5.67");
  }
  if (!apply_serial(args.serial, args.config.serial)) {
    return fail(kUsage, "--format '" + args.serial.format + "' is not like 8N1 or 7E1");
  }
  args.config.pty_link = args.pty;
  args.config.static_weight = *weight;
  if (args.no_checksum) args.config.checksum = false;
  install_signals();
  const auto result =
      ws::run_simulate(args.config, g_stop, [&](const std::map<std::string, std::string>& ready) {
        std::string where;
        for (const auto& [k, v] : ready) where += " " + k + "=" + v;
        std::cout << "simulating "
                  << (args.config.replay.empty()
                          ? args.config.protocol + " (" + args.config.profile + ")"
                          : "replay of " + args.config.replay.string())
                  << ":" << where << "; Ctrl-C to stop" << std::endl;
        write_ready_file(args.ready_file, ready);
      });
  if (result.exit_code != 0) return fail(result.exit_code, result.message);
  return kOk;
}

struct RecordArgs {
  ws::RecordConfig config;
  SerialArgs serial;
  double seconds = 0;
  std::string out;
  std::string ready_file;
};

int cmd_record(RecordArgs& args) {
  if (!apply_serial(args.serial, args.config.serial)) {
    return fail(kUsage, "--format '" + args.serial.format + "' is not like 8N1 or 7E1");
  }
  args.config.out = args.out;
  if (args.seconds > 0) {
    args.config.duration =
        std::chrono::milliseconds(static_cast<std::int64_t>(args.seconds * 1000.0));
  }
  install_signals();
  const auto result = ws::run_record(args.config, g_stop, [&](const std::string& source) {
    std::cerr << "recording " << source << " into " << args.out << "; Ctrl-C to stop\n";
    write_ready_file(args.ready_file, {{"source", source}, {"out", args.out}});
  });
  if (result.exit_code != 0) return fail(result.exit_code, result.message);
  std::cerr << "recorded " << result.bytes << " bytes in " << result.records << " records\n";
  return kOk;
}

struct ProbeArgs {
  ws::ProbeConfig config;
  double seconds = 1.5;
  bool json = false;
};

int cmd_probe(ProbeArgs& args) {
  if (args.config.port.empty() == args.config.tcp.empty()) {
    return fail(kUsage, "probe needs exactly one of --port DEV or --tcp HOST:PORT");
  }
  args.config.listen = std::chrono::milliseconds(static_cast<std::int64_t>(args.seconds * 1000.0));
  install_signals();
  const auto report = ws::run_probe(args.config, g_stop,
                                    [](const std::string& line) { std::cerr << line << '\n'; });
  if (args.json) {
    std::cout << ws::to_json(report) << '\n';
  } else if (!report.ranked.empty()) {
    const auto& best = report.ranked.front();
    std::printf(
        "best match: %s at %s, confidence %.2f (%llu frames, %llu bad, %llu of %llu bytes "
        "skipped)\n",
        best.protocol.c_str(), best.setting.c_str(), best.confidence,
        static_cast<unsigned long long>(best.frames),
        static_cast<unsigned long long>(best.bad_frames),
        static_cast<unsigned long long>(best.skipped_bytes),
        static_cast<unsigned long long>(best.bytes));
    std::printf("  first reading: %s\n", best.first_reading.c_str());
    if (report.suggested_setting) std::printf("  line: %s\n", report.suggested_setting->c_str());
    if (const auto advice = ws::poll_advice(best)) std::printf("  polling: %s\n", advice->c_str());
    for (std::size_t i = 1; i < report.ranked.size() && i < 5; ++i) {
      const auto& s = report.ranked[i];
      std::printf("runner-up: %s at %s, confidence %.2f (%llu frames, %llu bad)\n",
                  s.protocol.c_str(), s.setting.c_str(), s.confidence,
                  static_cast<unsigned long long>(s.frames),
                  static_cast<unsigned long long>(s.bad_frames));
    }
  }
  if (!report.error.empty() && report.ranked.empty()) {
    return fail(kFailure, report.error + "; check the device and that nothing else holds it");
  }
  if (report.ranked.empty()) {
    return fail(kFailure,
                "no protocol matched the bytes on the port; check the cable, record "
                "a capture with `weighlink-scale record` and look at it");
  }
  return kOk;
}

// The command line; main() below turns whatever escapes it into exit 1.
int run(int argc, char** argv) {
  CLI::App app{"weighlink-scale: indicator tools (protocols, decode, simulate, probe, record)",
               "weighlink-scale"};
  app.set_version_flag("--version", WEIGHLINK_VERSION);
  app.require_subcommand(1);
  app.failure_message([](const CLI::App* a, const CLI::Error& e) {
    return std::string("weighlink-scale: ") + e.what() + "; run `" + a->get_name() +
           " --help` for usage\n";
  });

  app.add_subcommand("protocols", "List the protocol ids this build decodes (id<TAB>description)");

  DecodeArgs decode;
  auto* dec = app.add_subcommand("decode", "Decode captured bytes into one JSON reading per line");
  dec->add_option("--protocol", decode.protocol, "Protocol id (see `protocols`)")->required();
  dec->add_option("--input", decode.input, "Capture file, or - for stdin")->capture_default_str();
  dec->add_option("--unit", decode.unit, "Unit for formats that carry none")->capture_default_str();
  dec->add_option("--decimals", decode.decimals, "Decimal places for formats that carry none")
      ->check(CLI::Range(0, 9));
  dec->add_option("--checksum", decode.checksum, "Checksum byte: auto, required or absent")
      ->check(CLI::IsMember({"auto", "required", "absent"}))
      ->capture_default_str();

  SimulateArgs sim;
  auto* simc = app.add_subcommand(
      "simulate", "Send real protocol frames into a pty, a serial port or to TCP clients");
  simc->add_option("--protocol", sim.config.protocol, "Protocol id to emit (see `protocols`)");
  simc->add_option("--pty", sim.pty, "Create a pty and make this path a symlink to it");
  simc->add_option("--port", sim.config.port, "Serial device to write to (a null-modem cable)");
  simc->add_option("--tcp-listen", sim.config.tcp_listen,
                   "HOST:PORT to serve frames on, every client gets them (port 0: any)");
  simc->add_option("--baud", sim.serial.baud, "--port: baud rate")->capture_default_str();
  simc->add_option("--format", sim.serial.format, "--port: data bits, parity, stop bits")
      ->capture_default_str();
  simc->add_option("--rate", sim.config.rate_hz, "Frames per second")->capture_default_str();
  simc->add_option("--profile", sim.config.profile, "static, truck, axles or noise")
      ->check(CLI::IsMember({"static", "truck", "axles", "noise"}))
      ->capture_default_str();
  simc->add_option("--weight", sim.weight, "Settled weight for the static and noise profiles")
      ->capture_default_str();
  simc->add_option("--seed", sim.config.seed, "Seed for the truck, axles and noise profiles")
      ->capture_default_str();
  simc->add_option("--decks", sim.config.decks,
                   "Deck count (default: 3 for multi-deck protocols, else none)");
  simc->add_flag("--cumulative", sim.config.cumulative,
                 "axles: display the running total of the axles (MCGS)");
  simc->add_option("--poll", sim.config.poll,
                   "auto: the protocols the agent polls by default answer only when polled, "
                   "the others stream; always: answer only when polled; never: always stream")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
  simc->add_option("--replay", sim.config.replay,
                   "Capture file from `record`: send its bytes with their original timing");
  simc->add_flag("--checksum", sim.config.checksum,
                 "mt-continuous: append the checksum byte (the default)");
  simc->add_flag("--no-checksum", sim.no_checksum, "mt-continuous: no checksum byte");
  simc->add_option("--ready-file", sim.ready_file,
                   "Write {\"device\"|\"tcp\"|\"port\": ...} here once ready");

  RecordArgs rec;
  auto* recc = app.add_subcommand("record", "Record indicator bytes with their timing");
  recc->add_option("--port", rec.config.port, "Serial device (ptys work)");
  recc->add_option("--tcp", rec.config.tcp, "HOST:PORT of a serial device server");
  recc->add_option("--baud", rec.serial.baud, "--port: baud rate")->capture_default_str();
  recc->add_option("--format", rec.serial.format, "--port: data bits, parity, stop bits")
      ->capture_default_str();
  recc->add_option("--out", rec.out, "Capture file to write")->required();
  recc->add_option("--duration", rec.seconds, "Seconds to record (default: until Ctrl-C)");
  recc->add_option("--ready-file", rec.ready_file, "Write {\"source\": ...} here once recording");

  ProbeArgs probe;
  auto* probec =
      app.add_subcommand("probe", "Find the protocol and line settings of an unknown indicator");
  probec->add_option("--port", probe.config.port, "Serial device (ptys work)");
  probec->add_option("--tcp", probe.config.tcp, "HOST:PORT of a serial device server");
  probec->add_option("--seconds", probe.seconds, "Seconds to listen per setting")
      ->capture_default_str();
  probec->add_flag("--all", probe.config.all_settings,
                   "Try every setting even after a confident match");
  probec->add_flag("--json", probe.json, "Print the report as one JSON object");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kUsage;
  }

  spdlog::set_pattern("weighlink-scale: %l: %v");
  const auto* chosen = app.get_subcommands().front();
  const std::string name = chosen->get_name();
  if (name == "protocols") return cmd_protocols();
  if (name == "decode") return cmd_decode(decode);
  if (name == "simulate") {
    if (sim.config.protocol.empty() && sim.config.replay.empty()) {
      return fail(kUsage, "simulate needs --protocol ID (or --replay CAPTURE)");
    }
    return cmd_simulate(sim);
  }
  if (name == "record") return cmd_record(rec);
  if (name == "probe") return cmd_probe(probe);
  return fail(kUsage, name + " is not available in this build yet; see `weighlink-scale --help`");
}

}  // namespace

int main(int argc, char** argv) {
  return weighlink::base::guarded_main("weighlink-scale", [&] { return run(argc, argv); });
}
