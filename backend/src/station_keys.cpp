// station set-key and the key file of station add: the agent's station key registered so that
// replay can check every mutation's signature (docs/backend.md, "Signatures").
#include <iostream>

#include "weighlink/backend/commands.hpp"
#include "weighlink/backend/pg_store.hpp"
#include "weighlink/sync/evidence.hpp"

namespace weighlink::backend {

std::optional<std::vector<unsigned char>> read_key_file(std::string_view command,
                                                        const std::string& path) {
  std::string error;
  auto key = sync::read_station_key(path, &error);
  if (!key) {
    std::cerr << "weighlink-backend: " << command << ": " << error
              << "; pass the agent's key file (DATA_DIR/station.key or its station_key_file)\n";
  }
  return key;
}

int run_station_set_key(const std::string& dsn, const std::string& station_id,
                        const std::string& key_file) {
  constexpr std::string_view kCommand = "station set-key";
  if (!valid_station_id(station_id)) {
    std::cerr << "weighlink-backend: " << kCommand << ": invalid station id \"" << station_id
              << "\": use 1..64 characters of A-Z a-z 0-9 . _ -\n";
    return kExitUsage;
  }
  const auto key = read_key_file(kCommand, key_file);
  if (!key) return kExitUsage;
  PgConnection db(dsn);
  auto set = set_station_key(db, station_id, *key);
  if (!set) {
    std::cerr << "weighlink-backend: " << kCommand << ": cannot set the key of station \""
              << station_id << "\": ";
    if (set.error() == Errc::station_not_found) {
      std::cerr << "no such station; check --id\n";
    } else if (set.error() == Errc::connection_lost) {
      std::cerr << "cannot reach PostgreSQL (" << db.last_error()
                << "); check --dsn and that the server is running\n";
    } else if (set.error() == Errc::not_migrated) {
      std::cerr << "the database has no weighlink schema (or an older one); run "
                   "`weighlink-backend migrate --dsn ...` first\n";
    } else {
      std::cerr << set.error().message() << " (" << db.last_error() << ")\n";
    }
    return kExitFailure;
  }
  std::cout << "station " << station_id << ": every new mutation's signature is checked with the "
            << "key from " << key_file << " from now on\n";
  return kExitOk;
}

}  // namespace weighlink::backend
