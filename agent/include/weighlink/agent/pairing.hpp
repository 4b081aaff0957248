#pragma once
// Origin pairing's adapters (docs/security.md, "Origin pairing"; docs/decisions/0005): the
// operator's decisions and the pending list kept in <data_dir>/origins.db (SQLite), the preset
// origins read from the configuration and the drop-in folder, and OriginPairing, which the
// agent's request checks and the /v1/origins endpoints use. The CLI (`weighlink-agent origins`)
// writes the same file while the agent runs; the agent notices through PRAGMA data_version.
// Threading: OriginStore and OriginPairing are not thread-safe; the agent uses them on its io
// thread only.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/agent/config.hpp"
#include "weighlink/agent/origins.hpp"
#include "weighlink/base/error.hpp"

namespace weighlink::agent {

// <data_dir>/origins.db.
[[nodiscard]] std::filesystem::path origins_db_path(const AgentConfig& config);

// allowed_origins of the configuration (source config) and every origins_dir/*.conf in name
// order (source preset). A bad entry is an Error (invalid_argument; the errno when a file cannot be
// read) naming the file (and line) and what to write.
[[nodiscard]] base::Expected<std::vector<DecidedOrigin>> load_fixed_origins(
    const AgentConfig& config);

class OriginStore {
 public:
  // Opens (creating when missing) the file. Errors (io_error, as every failure of the store) name
  // the file and what to do.
  [[nodiscard]] static base::Expected<std::unique_ptr<OriginStore>> open(
      const std::filesystem::path& file);
  ~OriginStore();
  OriginStore(const OriginStore&) = delete;
  OriginStore& operator=(const OriginStore&) = delete;

  [[nodiscard]] base::Expected<void> load(std::vector<DecidedOrigin>* decisions,
                                          std::vector<PendingOrigin>* pending);
  // Records (or replaces) a decision; the origin leaves the pending table in the same transaction.
  [[nodiscard]] base::Expected<void> decide(const DecidedOrigin& decision);
  // Removes a decision: true when there was one.
  [[nodiscard]] base::Expected<bool> revoke(const std::string& origin);
  // Replaces the pending table (origins decided meanwhile by another process are left out).
  [[nodiscard]] base::Expected<void> save_pending(const std::vector<PendingOrigin>& pending);
  // True when another connection (the CLI) committed since the last call.
  [[nodiscard]] bool changed();

 private:
  struct Impl;
  explicit OriginStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class OriginPairing {
 public:
  // `fixed`: load_fixed_origins(). Reads the store's decisions and pending origins.
  [[nodiscard]] static base::Expected<std::unique_ptr<OriginPairing>> open(
      std::unique_ptr<OriginStore> store, std::vector<DecidedOrigin> fixed);

  // The verdict for a normalized origin, after picking up decisions another process stored.
  [[nodiscard]] OriginVerdict check(const std::string& origin);
  // A refused request: the origin becomes (or stays) pending. A new one is written at once
  // (at most once a second), counts at the next poll().
  void note_refused(const std::string& origin, std::string_view surface, std::int64_t now_ms);

  struct Failure {
    int status;
    std::string code;
    std::string message;
  };
  // The operator's "allow", "deny" or "revoke" of a normalized origin, stored and in effect at
  // once (a revoked origin's sockets are closed through on_revoked).
  [[nodiscard]] std::optional<Failure> decide(std::string_view action, const std::string& origin,
                                              std::int64_t now_ms);
  // Periodically: decisions another process stored, and the pending counts written.
  void poll(std::int64_t now_ms);

  [[nodiscard]] const OriginRegistry& registry() const { return registry_; }
  // Called with each origin that is no longer allowed (to close its open sockets).
  std::function<void(const std::string&)> on_revoked;

 private:
  OriginPairing(std::unique_ptr<OriginStore> store, std::vector<DecidedOrigin> fixed);
  void reload();
  void flush(std::int64_t now_ms);

  std::unique_ptr<OriginStore> store_;
  OriginRegistry registry_;
  bool dirty_ = false;
  std::int64_t last_flush_ms_ = 0;
};

}  // namespace weighlink::agent
