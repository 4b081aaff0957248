// weighlink-agent origins ... (tools.hpp).
#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <fstream>
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

// `origins preset`: the installers' answer (debconf, the MSI property) as a drop-in file.
int preset(const AgentConfig& config, const OriginsCommand& command, std::ostream& out,
           std::ostream& err) {
  const std::string me = "weighlink-agent origins preset";
  const bool plain_name =
      !command.name.empty() && command.name.size() <= 64 &&
      std::all_of(command.name.begin(), command.name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
      });
  if (!plain_name) {
    err << me << ": --name must be 1 to 64 of a-z, 0-9, '-', '_' (the file is NAME.conf)\n";
    return kUsage;
  }
  if (config.origins_dir.empty()) {
    err << me << ": no origins folder: give --origins-dir (e.g. /etc/weighlink/origins.d)\n";
    return kUsage;
  }
  std::string text;
  for (const auto& arg : command.origins) {
    std::size_t start = 0;
    while (start < arg.size()) {
      const auto end = arg.find_first_of(", \t\n", start);
      const auto item = arg.substr(start, end == std::string::npos ? end : end - start);
      start = end == std::string::npos ? arg.size() : end + 1;
      if (item.empty()) continue;
      auto origin = normalize_origin(item);
      if (!origin) {
        err << me << ": " << origin.error().message << "\n";
        return kUsage;
      }
      text += *origin + "\n";
    }
  }
  const auto file = config.origins_dir / (command.name + ".conf");
  std::error_code ec;
  if (text.empty()) {
    std::filesystem::remove(file, ec);
    out << file.string() << ": no preset origins\n";
    return kOk;
  }
  std::filesystem::create_directories(config.origins_dir, ec);
  const auto tmp = file.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << "# Origins allowed to use this station's scale, written by the installer\n"
         "# (weighlink-agent origins preset). One per line; the agent reads it at start.\n"
      << text;
    if (!f) {
      err << me << ": cannot write " << tmp << "; check the folder's permissions\n";
      return kFailed;
    }
  }
  std::filesystem::rename(tmp, file, ec);
  if (ec) {
    err << me << ": cannot write " << file.string() << ": " << ec.message() << "\n";
    return kFailed;
  }
  out << file.string() << ": " << std::count(text.begin(), text.end(), '\n')
      << " origin(s); restart the agent to apply them\n";
  return kOk;
}

}  // namespace

int run_origins_command(const AgentConfig& config, const OriginsCommand& command, std::ostream& out,
                        std::ostream& err) {
  if (command.action == "preset") return preset(config, command, out, err);
  const std::string me = "weighlink-agent origins " + command.action;
  auto fixed = load_fixed_origins(config);
  if (!fixed) {
    err << me << ": " << fixed.error().message << "\n";
    return kUsage;
  }
  std::optional<std::string> origin;
  if (command.action != "list") {
    auto normalized = normalize_origin(command.origin);
    if (!normalized) {
      err << me << ": " << normalized.error().message << "\n";
      return kUsage;
    }
    origin = std::move(*normalized);
  }
  auto opened = OriginStore::open(origins_db_path(config));
  OriginRegistry registry;
  std::vector<DecidedOrigin> decisions;
  std::vector<PendingOrigin> pending;
  if (!opened) {
    err << me << ": " << opened.error().message << "\n";
    return kFailed;
  }
  auto& store = *opened;
  if (auto loaded = store->load(&decisions, &pending); !loaded) {
    err << me << ": " << loaded.error().message << "\n";
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
    if (auto revoked = store->revoke(*origin); !revoked) {
      err << me << ": " << revoked.error().message << "\n";
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
  if (auto decided = store->decide(d); !decided) {
    err << me << ": " << decided.error().message << "\n";
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
