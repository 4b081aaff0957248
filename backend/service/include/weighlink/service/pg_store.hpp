#pragma once
// The PostgreSQL implementation of the backend's storage: ReplayStore, migrations, station admin
// and readiness. Each function runs on the caller's connection (one per pool worker).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/pg/error.hpp"
#include "weighlink/pg/pg.hpp"
#include "weighlink/service/auth.hpp"
#include "weighlink/service/replay.hpp"
#include "weighlink/service/types.hpp"

namespace weighlink::service {

class PgReplayStore final : public ReplayStore {
 public:
  explicit PgReplayStore(pg::PgConnection& connection) : connection_(connection) {}
  pg::Result<StationState> lock_station(std::string_view station_id) override;
  pg::Result<std::vector<StoredMutation>> find_existing(
      std::string_view station_id, const std::vector<std::string>& keys) override;
  pg::Result<void> insert(std::string_view station_id,
                          const std::vector<NewRecord>& records) override;
  pg::Result<std::optional<StorageRefusal>> insert_guarded(std::string_view station_id,
                                                           const NewRecord& record) override;
  pg::Result<void> set_high_water(std::string_view station_id, std::uint64_t seq) override;

 private:
  pg::PgConnection& connection_;
};

// One replay batch in one transaction, retried per should_retry(). `attempts` receives how many
// transactions ran.
[[nodiscard]] pg::Result<ReplayOutcome> replay_batch(pg::PgConnection& connection,
                                                     std::string_view station_id,
                                                     const std::vector<Mutation>& mutations,
                                                     std::int64_t now_unix_ms,
                                                     int* attempts = nullptr);

[[nodiscard]] pg::Result<std::optional<StationAuth>> find_station_by_token_hash(
    pg::PgConnection& connection, std::string_view token_sha256);

[[nodiscard]] pg::Result<Watermark> read_watermark(pg::PgConnection& connection,
                                                   std::string_view station_id);

// station_exists when the id is taken; not_migrated when the schema is missing. An empty
// `signing_key` registers none. `accept_unsigned_weighings`: without a key, weighings are still
// recorded (off: REJECTED unsigned_weighing).
[[nodiscard]] pg::Result<void> insert_station(pg::PgConnection& connection,
                                              std::string_view station_id,
                                              std::string_view token_sha256,
                                              std::span<const unsigned char> signing_key = {},
                                              bool accept_unsigned_weighings = false);
// stations.accept_unsigned_weighings; station_not_found when there is no such station.
[[nodiscard]] pg::Result<void> set_unsigned_weighings(pg::PgConnection& connection,
                                                      std::string_view station_id, bool accept);
// Registers (or replaces) the key that signs the station's evidence; station_not_found when
// there is no such station.
[[nodiscard]] pg::Result<void> set_station_key(pg::PgConnection& connection,
                                               std::string_view station_id,
                                               std::span<const unsigned char> signing_key);
// station_not_found when there is no such station.
[[nodiscard]] pg::Result<void> disable_station(pg::PgConnection& connection,
                                               std::string_view station_id);
// A new token for the station (its hash): the old one is refused from the commit on, and a
// disabled station is enabled again.
[[nodiscard]] pg::Result<void> replace_station_token(pg::PgConnection& connection,
                                                     std::string_view station_id,
                                                     std::string_view token_sha256);

}  // namespace weighlink::service
