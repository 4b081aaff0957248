// sim:PROFILE: an indicator simulated in-process, so the agent runs with no hardware. The frames
// are the same bytes `weighlink-scale simulate` would send (encode_frame), so they go through
// the real parser. Adapter: it reads the steady clock and sleeps, the profile itself is pure.

#include <algorithm>
#include <cstring>
#include <thread>

#include "weighlink/scale/encode.hpp"
#include "weighlink/scale/simulator.hpp"
#include "weighlink/scale/source.hpp"

namespace weighlink::scale {
namespace {

using Clock = std::chrono::steady_clock;

class SimByteSource final : public ByteSource {
 public:
  SimByteSource(std::unique_ptr<SimProfile> profile, std::string protocol, const SimSource& source)
      : profile_(std::move(profile)),
        protocol_(std::move(protocol)),
        period_(std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(1.0 / source.rate_hz))),
        description_("sim " + source.profile + " " + protocol_ + " at " +
                     std::to_string(static_cast<int>(source.rate_hz)) + " Hz"),
        started_(Clock::now()),
        next_(started_) {}

  boost::system::result<std::size_t> read(std::span<char> buffer,
                                          std::chrono::milliseconds timeout) override {
    if (pending_.empty()) {
      const auto now = Clock::now();
      if (next_ > now + timeout) {
        std::this_thread::sleep_for(timeout);
        return std::size_t{0};
      }
      std::this_thread::sleep_until(next_);
      const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(next_ - started_);
      auto frame = encode_frame(protocol_, profile_->at(elapsed));
      if (!frame) return make_error_code(boost::system::errc::not_supported);
      pending_ = std::move(*frame);
      next_ += period_;
      // After a long stall (a debugger, a suspended laptop), do not burst to catch up.
      if (next_ < Clock::now()) next_ = Clock::now() + period_;
    }
    const std::size_t n = std::min(buffer.size(), pending_.size());
    std::memcpy(buffer.data(), pending_.data(), n);
    pending_.erase(0, n);
    return n;
  }

  // Polls are accepted and ignored: the simulated indicator streams anyway.
  boost::system::result<void> write(std::string_view) override { return {}; }

  std::string describe() const override { return description_; }

 private:
  std::unique_ptr<SimProfile> profile_;
  std::string protocol_;
  Clock::duration period_;
  std::string description_;
  Clock::time_point started_;
  Clock::time_point next_;
  std::string pending_;
};

}  // namespace

boost::system::result<std::unique_ptr<ByteSource>> open_sim(const SimSource& source,
                                                            std::string_view protocol,
                                                            std::string* detail) {
  SimProfileOptions options;
  options.seed = source.seed;
  if (source.weight) {
    if (const auto w = Decimal::parse(*source.weight)) options.static_weight = *w;
  }
  options.decks = source.decks;
  options.cumulative = source.cumulative;
  auto profile = make_sim_profile(source.profile, options);
  if (!profile) {
    if (detail) {
      *detail = "unknown sim profile '" + source.profile + "' (try " +
                std::string(sim_profile_names()) + ")";
    }
    return make_error_code(boost::system::errc::invalid_argument);
  }
  if (!encode_frame(protocol, DisplayState{})) {
    if (detail) {
      *detail = "protocol '" + std::string(protocol) + "' cannot be simulated in this build";
    }
    return make_error_code(boost::system::errc::not_supported);
  }
  return std::unique_ptr<ByteSource>(
      std::make_unique<SimByteSource>(std::move(profile), std::string(protocol), source));
}

}  // namespace weighlink::scale
