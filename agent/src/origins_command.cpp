// weighlink-agent origins ... (tools.hpp).
#include <boost/json.hpp>
#include <chrono>
#include <iomanip>

#include "weighlink/agent/pairing.hpp"
#include "weighlink/agent/tools.hpp"
#include "weighlink/scale/reading.hpp"

namespace weighlink::agent {
namespace {

constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;

std::string when(std::int64_t ms) {
  return scale::format_timestamp(
      std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

void print_table(const OriginRegistry& registry, std::ostream& out) {
  out << std::left << std::setw(9) << "STATE" << std::setw(8) << "SOURCE" << std::setw(44)
      << "ORIGIN"
      << "SINCE / FILE\n";
  for (const auto* list : {&registry.fixed(), &registry.decisions()}) {
    for (const auto& d : *list) {
      out << std::left << std::setw(9) << to_string(d.decision) << std::setw(8)
          << to_string(d.source) << std::setw(44) << d.origin
          << (d.source == OriginSource::paired ? when(d.decided_at_ms) : d.where) << "\n";
    }
  }
  for (const auto& p : registry.pending()) {
    std::string surfaces;
    for (const auto& s : p.surfaces) surfaces += (surfaces.empty() ? "" : ", ") + s;
    out << std::left << std::setw(9) << "pending" << std::setw(8) << "-" << std::setw(44)
        << p.origin << p.count << " request(s), last " << when(p.last_seen_ms) << " (" << surfaces
        << ")\n";
  }
  for (const auto& p : registry.pending()) {
    out << "\nAllow " << p.origin
        << " to use this station's scale?\n  weighlink-agent origins allow " << p.origin
        << "   (or: weighlink-agent origins deny " << p.origin << ")\n";
  }
}

}  // namespace

int run_origins_command(const AgentConfig& config, const OriginsCommand& command, std::ostream& out,
                        std::ostream& err) {
  const std::string me = "weighlink-agent origins " + command.action;
  std::string error;
  auto fixed = load_fixed_origins(config, &error);
  if (!fixed) {
    err << me << ": " << error << "\n";
    return kUsage;
  }
  std::optional<std::string> origin;
  if (command.action != "list") {
    origin = normalize_origin(command.origin, &error);
    if (!origin) {
      err << me << ": " << error << "\n";
      return kUsage;
    }
  }
  auto store = OriginStore::open(origins_db_path(config), &error);
  OriginRegistry registry;
  std::vector<DecidedOrigin> decisions;
  std::vector<PendingOrigin> pending;
  if (!store || !store->load(&decisions, &pending, &error)) {
    err << me << ": " << error << "\n";
    return kFailed;
  }
  registry.set_fixed(std::move(*fixed));
  (void)registry.set_decisions(std::move(decisions));
  registry.set_pending(std::move(pending));
  if (command.action == "list") {
    if (command.json) {
      out << boost::json::serialize(registry.to_json()) << "\n";
    } else {
      print_table(registry, out);
    }
    return kOk;
  }
  if (auto why = registry.refuse_decision(command.action, *origin)) {
    err << me << ": " << *why << "\n";
    return kFailed;
  }
  if (command.action == "revoke") {
    if (!store->revoke(*origin, &error)) {
      err << me << ": " << error << "\n";
      return kFailed;
    }
    out << *origin << ": revoked; it is refused again (and asks anew) from its next request\n";
    return kOk;
  }
  DecidedOrigin d;
  d.origin = *origin;
  d.decision = command.action == "allow" ? OriginDecision::allowed : OriginDecision::denied;
  d.decided_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  if (!store->decide(d, &error)) {
    err << me << ": " << error << "\n";
    return kFailed;
  }
  out << *origin << ": "
      << (d.decision == OriginDecision::allowed
              ? "allowed; pages of this origin may use this station's scale from their next "
                "request"
              : "denied; it stays refused and is no longer shown as pending")
      << "\n";
  return kOk;
}

}  // namespace weighlink::agent
