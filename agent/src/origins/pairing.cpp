// Origin pairing: the preset origins from files, and OriginPairing over the registry and the
// store (pairing.hpp).
#include "weighlink/agent/pairing.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "weighlink/base/log_text.hpp"

namespace weighlink::agent {

namespace {

// A new pending origin is written at once unless one was written less than this long ago (then
// at the next poll), so a flood of invented origins costs at most one write a second.
constexpr std::int64_t kFlushEveryMs = 1000;

}  // namespace

std::filesystem::path origins_db_path(const AgentConfig& config) {
  return config.data_dir / "origins.db";
}

base::Expected<std::vector<DecidedOrigin>> load_fixed_origins(const AgentConfig& config) {
  std::vector<DecidedOrigin> fixed;
  const std::string config_name =
      config.config_file.empty() ? std::string("the configuration") : config.config_file.string();
  for (const auto& text : config.allowed_origins) {
    auto origin = normalize_origin(text);
    if (!origin) {
      return base::invalid_argument(config_name + ": allowed_origins: " + origin.error().message);
    }
    DecidedOrigin d;
    d.origin = std::move(*origin);
    d.source = OriginSource::config;
    d.where = config_name;
    fixed.push_back(std::move(d));
  }
  if (config.origins_dir.empty()) return fixed;
  std::error_code ec;
  if (!std::filesystem::is_directory(config.origins_dir, ec)) return fixed;  // none installed
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(config.origins_dir, ec)) {
    if (entry.path().extension() == ".conf") files.push_back(entry.path());
  }
  if (ec) {
    return base::Error{ec, "cannot read the origins folder " + config.origins_dir.string() + ": " +
                               ec.message() + "; fix its permissions or set origins_dir"};
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) {
      return base::Error{std::make_error_code(std::errc::io_error),
                         "cannot read the origins file " + file.string() + "; fix its permissions"};
    }
    auto list = parse_origin_list(text.str(), file.string());
    if (!list) return list.error();
    for (auto& d : *list) fixed.push_back(std::move(d));
  }
  return fixed;
}

OriginPairing::OriginPairing(std::unique_ptr<OriginStore> store, std::vector<DecidedOrigin> fixed)
    : store_(std::move(store)) {
  registry_.set_fixed(std::move(fixed));
}

base::Expected<std::unique_ptr<OriginPairing>> OriginPairing::open(
    std::unique_ptr<OriginStore> store, std::vector<DecidedOrigin> fixed) {
  std::vector<DecidedOrigin> decisions;
  std::vector<PendingOrigin> pending;
  if (auto loaded = store->load(&decisions, &pending); !loaded) return loaded.error();
  auto pairing =
      std::unique_ptr<OriginPairing>(new OriginPairing(std::move(store), std::move(fixed)));
  (void)pairing->registry_.set_decisions(std::move(decisions));
  pairing->registry_.set_pending(std::move(pending));
  return pairing;
}

void OriginPairing::reload() {
  std::vector<DecidedOrigin> decisions;
  std::vector<PendingOrigin> ignored;
  if (auto loaded = store_->load(&decisions, &ignored); !loaded) {
    spdlog::error("origin pairing: {}", loaded.error().message);
    return;
  }
  const auto before = registry_.pending().size();
  for (const auto& origin : registry_.set_decisions(std::move(decisions))) {
    spdlog::warn("origin {} is no longer allowed: its open sockets are closed",
                 base::log_safe(origin));
    if (on_revoked) on_revoked(origin);
  }
  if (registry_.pending().size() != before) dirty_ = true;
}

OriginVerdict OriginPairing::check(const std::string& origin) {
  if (store_->changed()) reload();
  return registry_.verdict(origin);
}

void OriginPairing::note_refused(const std::string& origin, std::string_view surface,
                                 std::int64_t now_ms) {
  if (registry_.note_refused(origin, surface, now_ms)) {
    spdlog::warn(
        "origin {} asks to use this station ({}): allow or deny it on the operator page or with "
        "`weighlink-agent origins allow|deny {}`",
        base::log_safe(origin), surface, base::log_safe(origin));
    dirty_ = true;
    if (now_ms - last_flush_ms_ >= kFlushEveryMs) flush(now_ms);
  } else if (registry_.verdict(origin) == OriginVerdict::unknown) {
    dirty_ = true;
  }
}

std::optional<OriginPairing::Failure> OriginPairing::decide(std::string_view action,
                                                            const std::string& origin,
                                                            std::int64_t now_ms) {
  if (store_->changed()) reload();
  if (auto why = registry_.refuse_decision(action, origin)) {
    const auto* decided = registry_.find(origin);
    const bool fixed = decided && decided->source != OriginSource::paired;
    return Failure{409, fixed ? "origin_fixed" : "origin_not_decided", *why};
  }
  base::Expected<void> stored;
  if (action == "revoke") {
    if (auto revoked = store_->revoke(origin); !revoked) stored = revoked.error();
  } else {
    DecidedOrigin d;
    d.origin = origin;
    d.decision = action == "allow" ? OriginDecision::allowed : OriginDecision::denied;
    d.decided_at_ms = now_ms;
    stored = store_->decide(d);
  }
  if (!stored) return Failure{500, "origin_store_error", stored.error().message};
  spdlog::info("origin {}: {} by the operator", base::log_safe(origin),
               action == "allow"  ? "allowed"
               : action == "deny" ? "denied"
                                  : "revoked");
  reload();
  flush(now_ms);
  return std::nullopt;
}

void OriginPairing::poll(std::int64_t now_ms) {
  if (store_->changed()) reload();
  if (dirty_) flush(now_ms);
}

void OriginPairing::flush(std::int64_t now_ms) {
  if (auto saved = store_->save_pending(registry_.pending()); !saved) {
    spdlog::error("origin pairing: {}", saved.error().message);
    return;
  }
  dirty_ = false;
  last_flush_ms_ = now_ms;
}

}  // namespace weighlink::agent
