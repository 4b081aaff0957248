// run_probe(): the I/O half of `weighlink-scale probe` (the scoring is in probe.cpp).
#include <map>
#include <set>
#include <thread>

#include "poll_compat.hpp"
#include "sim_net.hpp"
#include "weighlink/base/host_port.hpp"
#include "weighlink/scale/parser.hpp"
#include "weighlink/scale/probe.hpp"

namespace weighlink::scale {
namespace {

using Clock = std::chrono::steady_clock;

// Reads for `duration` (or until stopped); false on a read error (port gone).
bool collect(ByteSource& source, std::chrono::milliseconds duration, std::string& out,
             const std::atomic<bool>& stop) {
  const auto until = Clock::now() + duration;
  char buf[4096];
  while (!stop && Clock::now() < until) {
    const auto n = source.read(std::span<char>(buf, sizeof buf), std::chrono::milliseconds(50));
    if (!n) return false;
    out.append(buf, *n);
    if (out.size() > (1u << 20)) break;
  }
  return true;
}

// Keeps the best score per protocol.
void merge(std::map<std::string, ProbeScore>& best, const std::vector<ProbeScore>& scores) {
  for (const auto& s : scores) {
    auto it = best.find(s.protocol);
    if (it == best.end()) {
      best.emplace(s.protocol, s);
    } else {
      std::vector<ProbeScore> two{it->second, s};
      rank_scores(two);
      it->second = two.front();
    }
  }
}

// One setting: listen, then ask with every distinct poll command. Returns false when the port
// failed.
bool probe_one(ByteSource& source, const std::string& label, const ProbeConfig& config,
               const std::atomic<bool>& stop, std::map<std::string, ProbeScore>& best,
               std::string& passive_sample) {
  if (!collect(source, config.listen, passive_sample, stop)) return false;
  const auto scores = score_protocols(passive_sample, label);
  merge(best, scores);
  if (!scores.empty() && scores.front().confidence >= config.good_enough) return true;

  std::set<std::string> commands;
  for (const auto& p : protocols()) {
    if (auto c = detail::poll_bytes(p.id); !c.empty()) commands.insert(std::move(c));
  }
  for (const auto& command : commands) {
    if (stop) break;
    std::string reply;
    // Three requests: one answer could be a coincidence, three are a pattern.
    for (int i = 0; i < 3 && !stop; ++i) {
      if (!source.write(command)) return false;
      if (!collect(source, config.poll_wait / 3, reply, stop)) return false;
    }
    merge(best, score_protocols(reply, label + " polled"));
  }
  return true;
}

}  // namespace

ProbeReport run_probe(const ProbeConfig& config, const std::atomic<bool>& stop,
                      const std::function<void(const std::string&)>& progress) {
  ProbeReport report;
  std::map<std::string, ProbeScore> best;
  std::string first_sample;  // the 8N1 sample, for the parity hint
  auto finish = [&] {
    for (auto& [_, s] : best) report.ranked.push_back(s);
    rank_scores(report.ranked);
    return report;
  };

  if (!config.tcp.empty()) {
    const auto address = base::parse_host_port(config.tcp);
    if (!address) {
      report.error = "--tcp: " + address.error().message;
      return report;
    }
    auto source = detail::connect_tcp(address->host, address->port, std::chrono::seconds(5));
    if (!source) {
      report.error = "cannot connect to " + config.tcp + ": " + source.error().message();
      return report;
    }
    const std::string label = "tcp " + config.tcp;
    report.tried.push_back(label);
    if (progress) progress("listening on " + label);
    std::string sample;
    (void)probe_one(**source, label, config, stop, best, sample);
    return finish();
  }

  std::string last_error;
  for (const auto& settings : probe_settings()) {
    if (stop) break;
    const std::string label = describe_settings(settings);
    auto source = open_serial(SerialSource{config.port, settings});
    if (!source) {
      last_error = source.error().message();
      if (report.tried.empty() && best.empty()) {
        // The device itself is missing or busy: no other setting will help.
        report.error = "cannot open " + config.port + " at " + label + ": " + last_error;
        return report;
      }
      continue;
    }
    report.tried.push_back(label);
    if (progress) progress("trying " + label);
    std::string sample;
    const bool ok = probe_one(**source, label, config, stop, best, sample);
    if (settings.data_bits == 8 && first_sample.empty()) first_sample = sample;
    if (!ok) {
      report.error = "reading " + config.port + " failed at " + label;
      break;
    }
    std::vector<ProbeScore> so_far;
    so_far.reserve(best.size());
    for (auto& [_, s] : best) so_far.push_back(s);
    rank_scores(so_far);
    if (!config.all_settings && !so_far.empty() && so_far.front().confidence >= config.good_enough)
      break;
  }
  if (const auto parity = parity_in_bit7(first_sample)) {
    report.suggested_setting = std::string(parity == Parity::even ? "7E1" : "7O1") +
                               " (bit 7 of every byte read at 8N1 is a parity bit)";
  }
  return finish();
}

}  // namespace weighlink::scale
