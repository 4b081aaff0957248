// DisplayLink (display_link.hpp): the I/O of one remote display on its own thread.

#include "devices/display/display_link.hpp"

#include <array>
#include <random>

#include "weighlink/base/backoff.hpp"
#include "weighlink/base/host_port.hpp"

namespace weighlink::agent::display {
namespace {

constexpr std::chrono::milliseconds kConnectTimeout{1500};
constexpr std::chrono::milliseconds kBackoffBase{200};

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

DisplayLink::DisplayLink(DisplayConfig config)
    : config_(std::move(config)), stale_(stale_style(config_.protocol)), since_ms_(now_ms()) {}

DisplayLink::~DisplayLink() { stop(); }

void DisplayLink::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { run(); });
}

void DisplayLink::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void DisplayLink::put(const scale::Reading& reading) {
  {
    std::lock_guard lock(mutex_);
    latest_ = reading;
    ++version_;
  }
  wake_.notify_all();
}

std::string DisplayLink::target() const {
  return config_.transport == "tcp" ? base::format_host_port(config_.host, config_.tcp_port)
                                    : config_.port;
}

DeviceHealth DisplayLink::health() const {
  DeviceHealth h;
  h.id = config_.id;
  h.kind = "display";
  {
    std::lock_guard lock(mutex_);
    h.state = state_;
    h.detail = detail_;
    h.since_ms = since_ms_;
  }
  h.extra = {{"transport", config_.transport},      {"target", target()},
             {"protocol", config_.protocol},        {"scale", config_.scale},
             {"stale_shown_by", to_string(stale_)}, {"frames", frames_.load()}};
  return h;
}

void DisplayLink::set_state(const std::string& state, const std::string& detail) {
  std::lock_guard lock(mutex_);
  if (state_ != state) since_ms_ = now_ms();
  state_ = state;
  detail_ = detail;
}

bool DisplayLink::pause(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, delay, [this] { return stop_; });
}

void DisplayLink::run() {
  std::mt19937 random(std::random_device{}());
  const base::BackoffPolicy policy{kBackoffBase, config_.reopen_backoff_max};
  std::uint32_t attempt = 0;
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stop_) return;
    }
    std::string detail;
    boost::system::result<std::unique_ptr<scale::ByteSource>> opened =
        config_.transport == "tcp"
            ? scale::open_tcp(scale::TcpSource{config_.host, config_.tcp_port}, kConnectTimeout)
            : scale::open_serial(scale::SerialSource{config_.port, config_.serial, std::nullopt},
                                 &detail);
    std::string lost;
    if (!opened) {
      lost = "cannot open " + target() + ": " + opened.error().message() +
             (detail.empty() ? "" : " (" + detail + ")");
    } else {
      set_state("ok", "");
      const auto before = frames_.load();
      auto error = serve(**opened);
      if (!error) return;  // stopping
      lost = *error;
      // The backoff starts again only after frames went through: a port that opens and then
      // fails every write is retried at the growing pace of one that does not open.
      if (frames_.load() != before) attempt = 0;
    }
    set_state("offline", lost);
    if (!pause(base::backoff_delay(policy, attempt, static_cast<std::uint32_t>(random())))) return;
    if (attempt < 32) ++attempt;
  }
}

std::optional<std::string> DisplayLink::serve(scale::ByteSource& port) {
  std::uint64_t seen = 0;
  auto due = std::chrono::steady_clock::now();  // the first frame at once
  std::array<char, 256> ignored{};
  while (true) {
    std::optional<scale::Reading> latest;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_until(lock, due, [&] { return stop_ || version_ != seen; });
      if (stop_) return std::nullopt;
      seen = version_;
      latest = latest_;
    }
    if (auto frame = frame_for(config_.protocol, stale_, latest)) {
      if (auto written = port.write(*frame); !written) {
        return "lost " + target() + ": " + written.error().message();
      }
      ++frames_;
    }
    due = std::chrono::steady_clock::now() + config_.interval;
    // What the display sends back is not used, but reading it is how a closed connection or an
    // unplugged port shows before the next frame is lost.
    if (auto got = port.read(ignored, std::chrono::milliseconds(1)); !got) {
      return "lost " + target() + ": " + got.error().message();
    }
  }
}

}  // namespace weighlink::agent::display
