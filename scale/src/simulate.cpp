#include "weighlink/scale/simulate.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <span>
#include <sstream>
#include <thread>

#include "poll_compat.hpp"
#include "sim_net.hpp"
#include "weighlink/base/host_port.hpp"
#include "weighlink/scale/capture.hpp"
#include "weighlink/scale/parser.hpp"
#include "weighlink/scale/pty.hpp"
#include "weighlink/scale/simulator.hpp"

namespace weighlink::scale {
namespace {

using Clock = std::chrono::steady_clock;
using detail::FrameSink;

// answer() of a sink with one reader (a pty, a serial port): reads what has arrived
// (`read_some(buffer)`, 0 when nothing more), lets `reply` answer it and writes the answer back.
template <class ReadSome, class Write>
boost::system::result<void> answer_one_reader(
    std::string& inbox, ReadSome read_some, Write write,
    const std::function<std::string(std::string& inbox)>& reply) {
  char buf[512];
  while (true) {
    const auto n = read_some(std::span<char>(buf, sizeof buf));
    if (!n) return n.error();
    if (*n == 0) break;
    inbox.append(buf, *n);
  }
  if (inbox.empty()) return {};
  const std::string out = detail::answer_inbox(inbox, reply);
  if (out.empty()) return {};
  return write(out);
}

class PtySink final : public FrameSink {
 public:
  PtySink(PseudoTerminal pty, double rate_hz) : pty_(std::move(pty)), rate_hz_(rate_hz) {}

  boost::system::result<void> broadcast(std::string_view bytes) override {
    // A real line loses what is sent while nobody listens; without this a reader that opens the
    // pty later would first get seconds-old weights from the kernel buffer. More than about half
    // a second of frames unread means no one is reading.
    const auto backlog = std::max<std::size_t>(
        bytes.size() * 2,
        static_cast<std::size_t>(rate_hz_ * static_cast<double>(bytes.size()) / 2));
    if (pty_.unread() > backlog) pty_.discard_unread();
    const auto written = pty_.write_some(bytes);
    if (!written) return written.error();
    if (*written < bytes.size()) {
      ++dropped_;  // buffer full: drop the frame, like an indicator with no one listening
      if (!dropping_) spdlog::warn("pty buffer full; dropping frames until a reader drains it");
      dropping_ = true;
    } else if (dropping_) {
      spdlog::info("pty drained; {} frames dropped", dropped_);
      dropping_ = false;
    }
    return {};
  }

  boost::system::result<void> answer(
      const std::function<std::string(std::string& inbox)>& reply) override {
    return answer_one_reader(
        inbox_,
        [this](std::span<char> buffer) { return pty_.read_some(buffer.data(), buffer.size()); },
        [this](std::string_view bytes) -> boost::system::result<void> {
          if (auto w = pty_.write_some(bytes); !w) return w.error();
          return {};
        },
        reply);
  }

 private:
  PseudoTerminal pty_;
  double rate_hz_;
  std::string inbox_;
  std::uint64_t dropped_ = 0;
  bool dropping_ = false;
};

class SerialSink final : public FrameSink {
 public:
  explicit SerialSink(std::unique_ptr<ByteSource> port) : port_(std::move(port)) {}
  boost::system::result<void> broadcast(std::string_view bytes) override {
    return port_->write(bytes);
  }
  boost::system::result<void> answer(
      const std::function<std::string(std::string& inbox)>& reply) override {
    return answer_one_reader(
        inbox_,
        [this](std::span<char> buffer) {
          return port_->read(buffer, std::chrono::milliseconds(0));
        },
        [this](std::string_view bytes) { return port_->write(bytes); }, reply);
  }

 private:
  std::unique_ptr<ByteSource> port_;
  std::string inbox_;
};

// Answers every complete poll command in `inbox` with one frame, and keeps only a tail that could
// still be the start of the next command.
std::string answer_polls(std::string& inbox, const std::string& command,
                         const std::function<std::string()>& frame) {
  std::string out;
  std::size_t at = 0;
  std::size_t consumed = 0;
  while ((at = inbox.find(command, consumed)) != std::string::npos) {
    out += frame();
    consumed = at + command.size();
  }
  inbox.erase(0, consumed);
  if (inbox.size() >= command.size()) inbox.erase(0, inbox.size() - (command.size() - 1));
  return out;
}

struct Output {
  std::unique_ptr<FrameSink> sink;
  std::map<std::string, std::string> ready;
};

SimulateResult open_output(const SimulateConfig& config, Output& out) {
  const int outputs = (config.pty_link.empty() ? 0 : 1) + (config.port.empty() ? 0 : 1) +
                      (config.tcp_listen.empty() ? 0 : 1);
  if (outputs != 1) {
    return {2, "simulate needs exactly one of --pty PATH, --port DEV or --tcp-listen HOST:PORT"};
  }
  if (!config.tcp_listen.empty()) {
    const auto listen = base::parse_host_port(config.tcp_listen, base::PortZero::allowed);
    if (!listen) return {2, "--tcp-listen: " + listen.error().message};
    std::string bound;
    auto sink = detail::listen_tcp(listen->host, listen->port, bound);
    if (!sink) {
      return {1, "cannot listen on " + config.tcp_listen + ": " + sink.error().message() +
                     "; choose a free port or another address"};
    }
    out.sink = std::move(*sink);
    out.ready["tcp"] = bound;
    return {};
  }
  if (!config.port.empty()) {
    auto port = open_serial(SerialSource{config.port, config.serial});
    if (!port) {
      return {1, "cannot open " + config.port + ": " + port.error().message() +
                     "; check the device name and that no other program holds it"};
    }
    out.sink = std::make_unique<SerialSink>(std::move(*port));
    out.ready["port"] = config.port;
    return {};
  }
  auto pty = PseudoTerminal::open();
  if (!pty) {
    return {1, "cannot create a pseudo-terminal: " + pty.error().message() +
                   "; check that /dev/ptmx and /dev/pts are available"};
  }
  if (auto linked = pty->make_link(config.pty_link); !linked) {
    if (linked.error() == boost::system::errc::file_exists) {
      return {2, "refusing to replace " + config.pty_link.string() +
                     ": it exists and is not a symlink; choose another --pty path"};
    }
    return {1, "cannot create symlink " + config.pty_link.string() + ": " +
                   linked.error().message() + "; check the directory exists and is writable"};
  }
  out.ready["device"] = pty->device();
  out.ready["link"] = config.pty_link.string();
  out.sink = std::make_unique<PtySink>(std::move(*pty), config.rate_hz);
  return {};
}

// Sleeps until `until` in short steps, so SIGINT/SIGTERM stay prompt. False when stopped.
bool sleep_until(Clock::time_point until, const std::atomic<bool>& stop) {
  while (!stop) {
    const auto now = Clock::now();
    if (now >= until) return true;
    std::this_thread::sleep_for(
        std::min<Clock::duration>(until - now, std::chrono::milliseconds(20)));
  }
  return false;
}

SimulateResult run_replay(const Capture& capture, FrameSink& sink, const std::atomic<bool>& stop) {
  // Over TCP the capture starts when the first client connects, so that client sees all of it.
  while (!stop && sink.readers() == 0) {
    if (auto r = sink.broadcast({}); !r) return {1, "output failed: " + r.error().message()};
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto start = Clock::now();
  for (const auto& record : capture.records) {
    if (!sleep_until(start + record.offset, stop)) return {};
    if (auto r = sink.broadcast(record.bytes); !r) {
      return {1, "writing the replay failed: " + r.error().message()};
    }
  }
  // Let the reader drain the last bytes before the output closes.
  (void)sleep_until(Clock::now() + std::chrono::milliseconds(300), stop);
  return {};
}

}  // namespace

std::function<std::string(const DisplayState&)> make_encoder(std::string_view protocol,
                                                             bool checksum) {
  if (protocol == "mt-continuous" && !checksum) {
    return [](const DisplayState& s) { return encode_mt_continuous(s, false); };
  }
  DisplayState probe;
  probe.weight = Decimal{1000, 0};
  if (!encode_frame(protocol, probe)) return {};
  return [id = std::string(protocol)](const DisplayState& s) {
    return encode_frame(id, s).value_or(std::string());
  };
}

bool encoder_has_decks(std::string_view protocol) {
  DisplayState single;
  single.weight = Decimal{3000, 0};
  DisplayState decks = single;
  decks.decks = {Decimal{1000, 0}, Decimal{2000, 0}};
  const auto a = encode_frame(protocol, single);
  const auto b = encode_frame(protocol, decks);
  return a && b && *a != *b;
}

std::string poll_command(std::string_view protocol) { return detail::poll_bytes(protocol); }

SimulateResult run_simulate(
    const SimulateConfig& config, const std::atomic<bool>& stop,
    const std::function<void(const std::map<std::string, std::string>&)>& on_ready) {
  std::optional<Capture> capture;
  if (!config.replay.empty()) {
    std::ifstream file(config.replay, std::ios::binary);
    std::stringstream data;
    data << file.rdbuf();
    if (!file) {
      return {1, "cannot read capture " + config.replay.string() + "; check the path"};
    }
    auto parsed = parse_capture(data.str());
    if (!parsed) {
      return {2, config.replay.string() + ": " + parsed.error().message +
                     "; --replay needs a file written by `weighlink-scale record`"};
    }
    capture = std::move(*parsed);
  }
  std::function<std::string(const DisplayState&)> encode;
  std::unique_ptr<SimProfile> profile;
  if (!capture) {
    encode = make_encoder(config.protocol, config.checksum);
    if (!encode) {
      std::string known;
      for (const auto& p : protocols()) {
        if (make_encoder(p.id, true)) known += (known.empty() ? "" : ", ") + std::string(p.id);
      }
      return {2, "cannot simulate protocol '" + config.protocol + "': this build encodes " + known +
                     "; choose one with --protocol"};
    }
    SimProfileOptions options;
    options.seed = config.seed;
    options.static_weight = config.static_weight;
    options.cumulative = config.cumulative;
    options.decks = config.decks >= 0 ? config.decks : (encoder_has_decks(config.protocol) ? 3 : 0);
    profile = make_sim_profile(config.profile, options);
    if (!profile) {
      return {2, "unknown profile '" + config.profile + "': use --profile " +
                     std::string(sim_profile_names())};
    }
  }
  if (!(config.rate_hz > 0.0 && config.rate_hz <= 1000.0)) {
    return {2, "--rate must be between 0 and 1000 Hz"};
  }
  // "auto" plays the indicator the agent expects by default: polled protocols (poll.hpp,
  // polled_by_default()) answer only when asked, the others stream.
  const bool polled =
      config.poll == "always" || (config.poll == "auto" && polled_by_default(config.protocol));
  const std::string command = polled ? poll_command(config.protocol) : std::string();
  if (!capture && polled && command.empty()) {
    return {2, "--poll always: protocol '" + config.protocol +
                   "' has no request to answer (it streams); use --poll auto"};
  }
  Output out;
  if (auto opened = open_output(config, out); opened.exit_code != 0) return opened;
  if (on_ready) on_ready(out.ready);
  FrameSink& sink = *out.sink;
  if (capture) return run_replay(*capture, sink, stop);

  const auto start = Clock::now();
  auto frame_now = [&] {
    const auto elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    return encode(profile->at(elapsed));
  };
  if (!command.empty()) {
    // A polled indicator speaks only when asked: one frame per request.
    while (!stop) {
      if (auto r = sink.answer(
              [&](std::string& inbox) { return answer_polls(inbox, command, frame_now); });
          !r) {
        return {1, "output failed: " + r.error().message()};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return {};
  }

  const auto period = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(1.0 / config.rate_hz));
  auto next = start;
  while (!stop) {
    const auto now = Clock::now();
    if (now < next) {
      (void)sleep_until(std::min<Clock::time_point>(next, now + std::chrono::milliseconds(50)),
                        stop);
      continue;
    }
    next += period;
    if (next < now) next = now + period;  // after a stall, do not burst to catch up
    if (auto r = sink.broadcast(frame_now()); !r) {
      return {1, "writing frames failed: " + r.error().message()};
    }
  }
  return {};
}

}  // namespace weighlink::scale
