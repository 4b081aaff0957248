// weighlink-scale: indicator tools (SPEC §3). Thin: flags in, library calls, exit code out.
// Exit codes: 0 ok, 1 operational failure, 2 bad usage.

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "weighlink/scale/parser.hpp"
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
  if (args.input != "-") {
    file.open(args.input, std::ios::binary);
    if (!file) {
      return fail(kFailure, "cannot open input " + args.input + ": " + std::strerror(errno) +
                                "; check the path, or pass --input - to read stdin");
    }
    in = &file;
  }
  std::vector<char> buffer(64 * 1024);
  std::vector<ws::Reading> readings;
  auto print = [&] {
    for (const auto& r : readings) std::cout << ws::to_json_line(r, false) << '\n';
    readings.clear();
  };
  while (*in) {
    in->read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto got = in->gcount();
    if (got > 0)
      parser->put(std::string_view(buffer.data(), static_cast<std::size_t>(got)), readings);
    print();
  }
  if (in->bad()) {
    return fail(kFailure, "reading " + (args.input == "-" ? std::string("stdin") : args.input) +
                              " failed; check the file is readable");
  }
  parser->finish(readings);
  print();
  std::cout.flush();
  const auto& stats = parser->stats();
  std::cerr << "skipped " << stats.skipped_bytes << " bytes, " << stats.bad_frames
            << " bad frames\n";
  return std::cout ? kOk : kFailure;
}

struct SimulateArgs {
  ws::SimulateConfig config;
  std::string pty;
  std::string port;
  std::string tcp_listen;
  std::string weight = "32540";
};

int cmd_simulate(SimulateArgs& args) {
  if (!args.port.empty() || !args.tcp_listen.empty()) {
    return fail(kUsage, std::string(!args.port.empty() ? "--port" : "--tcp-listen") +
                            " is not available in this build yet; use --pty PATH");
  }
  if (args.pty.empty()) return fail(kUsage, "simulate needs --pty PATH (e.g. --pty /tmp/scale)");
  const auto weight = ws::Decimal::parse(args.weight);
  if (!weight) {
    return fail(kUsage, "--weight '" + args.weight + "' is not a number like 32540 or 5.67");
  }
  args.config.pty_link = args.pty;
  args.config.static_weight = *weight;

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  const auto result = ws::run_simulate(args.config, g_stop, [&](const std::string& device) {
    std::cout << "simulating " << args.config.protocol << " (" << args.config.profile << ") on "
              << args.pty << " -> " << device << " at " << args.config.rate_hz
              << " Hz; Ctrl-C to stop" << std::endl;
  });
  if (result.exit_code != 0) return fail(result.exit_code, result.message);
  return kOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weighlink-scale: indicator tools (list protocols, decode captures, simulate)",
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
  auto* simc = app.add_subcommand("simulate", "Stream real protocol frames into a pseudo-terminal");
  simc->add_option("--protocol", sim.config.protocol, "Protocol id to emit")->required();
  simc->add_option("--pty", sim.pty, "Symlink to create to the pty device end");
  simc->add_option("--port", sim.port, "Serial device to write to (later)");
  simc->add_option("--tcp-listen", sim.tcp_listen, "HOST:PORT to serve frames on (later)");
  simc->add_option("--rate", sim.config.rate_hz, "Frames per second")->capture_default_str();
  simc->add_option("--profile", sim.config.profile, "static or truck")
      ->check(CLI::IsMember({"static", "truck"}))
      ->capture_default_str();
  simc->add_option("--weight", sim.weight, "Displayed weight for the static profile")
      ->capture_default_str();
  simc->add_option("--seed", sim.config.seed, "Seed for the truck profile")->capture_default_str();
  simc->add_flag("--checksum", sim.config.checksum, "mt-continuous: append the checksum byte");

  for (const char* later : {"probe", "record"}) {
    app.add_subcommand(later, "(not available in this build yet)")->allow_extras();
  }

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
  if (name == "simulate") return cmd_simulate(sim);
  return fail(kUsage, name + " is not available in this build yet; see `weighlink-scale --help`");
}
