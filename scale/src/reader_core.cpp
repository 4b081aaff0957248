#include "reader_core.hpp"

#include <spdlog/spdlog.h>

#include <variant>

#include "weighlink/base/host_port.hpp"

namespace weighlink::scale::detail {

std::string describe_spec(const SourceSpec& spec) {
  struct Visitor {
    std::string operator()(const SerialSource& s) const {
      return s.usb ? "serial USB " + describe(*s.usb) : s.device;
    }
    std::string operator()(const TcpSource& s) const {
      return "tcp " + base::format_host_port(s.host, s.port);
    }
    std::string operator()(const UdpSource& s) const {
      return "udp " + base::format_host_port(s.host, s.port) +
             (s.from.empty() ? "" : " from " + s.from);
    }
    std::string operator()(const SimSource& s) const { return "sim " + s.profile; }
  };
  return std::visit(Visitor{}, spec);
}

ReaderCore::ReaderCore(const ScaleConfig& config, const ScaleEvents& events,
                       ReaderCounters& counters)
    : config_(config),
      events_(events),
      counters_(counters),
      stale_(config.stale_after),
      stability_(config.stability),
      poll_every_(effective_poll_interval(config)),
      poll_(scale::poll_request(config)) {}

std::string ReaderCore::configuration_error() const {
  if (!make_parser(config_.protocol, config_.parser)) {
    return "unknown protocol '" + config_.protocol +
           "'; run `weighlink-scale protocols` for the list";
  }
  if (poll_every_.count() > 0 && poll_.empty()) {
    return "poll_interval is set but protocol '" + config_.protocol +
           "' has no usual request; set poll_command";
  }
  return {};
}

void ReaderCore::fail(const std::string& detail) {
  spdlog::error("scale {}: {}", config_.id, detail);
  notify(false, detail);
}

void ReaderCore::connected(const std::string& description) {
  spdlog::info("scale {}: connected to {}", config_.id, description);
  last_failure_.clear();
  notify(true, description);
  parser_ = make_parser(config_.protocol, config_.parser);
  counted_ = {};
}

void ReaderCore::on_bytes(std::string_view bytes, Clock::time_point now) {
  if (!parser_) return;
  readings_.clear();
  parser_->put(bytes, readings_);
  if (parser_->stats().bad_frames != counted_.bad_frames) stability_.reset();
  publish(now);
  count();
}

void ReaderCore::disconnected(Clock::time_point now) {
  if (parser_) {
    readings_.clear();
    parser_->finish(readings_);
    publish(now);
    count();
    parser_.reset();
  }
  stability_.reset();
}

void ReaderCore::publish(Clock::time_point now) {
  for (auto& r : readings_) {
    stability_.apply(r, now);
    stale_.on_reading(r, now);
    emit(r);
  }
}

void ReaderCore::check_stale(Clock::time_point now) {
  if (auto stale = stale_.poll(now)) {
    spdlog::warn("scale {}: stale, no valid reading for {} ms", config_.id,
                 config_.stale_after.count());
    stability_.reset();
    emit(*stale);
  }
}

void ReaderCore::emit(Reading& r) {
  r.scale = config_.id;
  r.seq = ++seq_;
  r.ts = std::chrono::system_clock::now();
  if (events_.on_reading) events_.on_reading(r);
}

void ReaderCore::count() {
  const auto& s = parser_->stats();
  counters_.frames += s.frames - counted_.frames;
  counters_.bad_frames += s.bad_frames - counted_.bad_frames;
  counters_.skipped_bytes += s.skipped_bytes - counted_.skipped_bytes;
  counted_ = s;
}

void ReaderCore::lost(const std::string& detail) {
  if (detail == last_failure_) return;  // one log line per state change, not per retry
  spdlog::warn("scale {}: {}; retrying every {} ms at most", config_.id, detail,
               config_.reopen_backoff_max.count());
  last_failure_ = detail;
  notify(false, detail);
}

void ReaderCore::notify(bool connected, const std::string& detail) {
  if (events_.on_connection) events_.on_connection(connected, detail);
}

}  // namespace weighlink::scale::detail
