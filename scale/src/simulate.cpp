#include "weighlink/scale/simulate.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "weighlink/scale/pty.hpp"
#include "weighlink/scale/simulator.hpp"

namespace weighlink::scale {

std::function<std::string(const DisplayState&)> make_encoder(std::string_view protocol,
                                                             bool checksum) {
  if (protocol == "mt-continuous") {
    return [checksum](const DisplayState& s) { return encode_mt_continuous(s, checksum); };
  }
  if (protocol == "sma") return [](const DisplayState& s) { return encode_sma(s); };
  return {};
}

SimulateResult run_simulate(const SimulateConfig& config, const std::atomic<bool>& stop,
                            const std::function<void(const std::string&)>& on_ready) {
  const auto encode = make_encoder(config.protocol, config.checksum);
  if (!encode) {
    return {2, "cannot simulate protocol '" + config.protocol +
                   "': this build encodes mt-continuous and sma; choose one with --protocol"};
  }
  const auto profile = make_sim_profile(config.profile, config.seed, config.static_weight);
  if (!profile) {
    return {2, "unknown profile '" + config.profile + "': use --profile static or truck"};
  }
  if (!(config.rate_hz > 0.0 && config.rate_hz <= 1000.0)) {
    return {2, "--rate must be between 0 and 1000 Hz"};
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
  if (on_ready) on_ready(pty->device());

  const auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(1.0 / config.rate_hz));
  const auto start = std::chrono::steady_clock::now();
  auto next = start;
  std::uint64_t dropped = 0;
  bool dropping = false;
  while (!stop) {
    const auto now = std::chrono::steady_clock::now();
    if (now < next) {
      // Short sleeps keep SIGINT/SIGTERM handling prompt.
      std::this_thread::sleep_for(
          std::min<std::chrono::steady_clock::duration>(next - now, std::chrono::milliseconds(50)));
      continue;
    }
    next += period;
    if (next < now) next = now + period;  // after a stall, do not burst to catch up

    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - start);
    const std::string frame = encode(profile->at(elapsed));
    // A real line loses what is sent while nobody listens; without this a reader that opens
    // the pty later would first get seconds-old weights from the kernel buffer.
    // More than about half a second of frames unread means no one is reading.
    const auto backlog = std::max<std::size_t>(
        frame.size() * 2,
        static_cast<std::size_t>(config.rate_hz * static_cast<double>(frame.size()) / 2));
    if (pty->unread() > backlog) pty->discard_unread();
    const auto written = pty->write_some(frame);
    if (!written) {
      return {1, "writing to " + pty->device() + " failed: " + written.error().message()};
    }
    if (*written < frame.size()) {
      ++dropped;  // buffer full: drop the frame, like an indicator with no one listening
      if (!dropping) spdlog::warn("pty buffer full; dropping frames until a reader drains it");
      dropping = true;
    } else if (dropping) {
      spdlog::info("pty drained; {} frames dropped", dropped);
      dropping = false;
    }
  }
  return {};
}

}  // namespace weighlink::scale
