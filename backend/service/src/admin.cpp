// migrate, station add, rotate-token, set-key, set-unsigned-weighings, disable, records verify:
// one-shot commands on their own connection.
#include <boost/json.hpp>
#include <optional>
#include <ostream>
#include <span>
#include <string_view>
#include <vector>

#include "weighlink/base/hash.hpp"
#include "weighlink/pg/evidence_sql.hpp"
#include "weighlink/pg/migrations.hpp"
#include "weighlink/record/evidence.hpp"
#include "weighlink/service/commands.hpp"
#include "weighlink/service/pg_store.hpp"
#include "weighlink/service/record_check.hpp"
#include "weighlink/service/token.hpp"

namespace weighlink::service {
namespace {

// "weighlink-backend: <command>: <what failed>: <detail>; <what to do>"
int fail(const base::Console& console, std::string_view command, std::string_view what,
         const pg::PgConnection& db, const boost::system::error_code& error) {
  console.err << "weighlink-backend: " << command << ": " << what << ": ";
  if (error == pg::Errc::station_not_found) {
    console.err << "no such station; check --id\n";
  } else if (error == pg::Errc::connection_lost) {
    console.err << "cannot reach PostgreSQL (" << db.last_error()
                << "); check --dsn and that the server is running\n";
  } else if (error == pg::Errc::not_migrated) {
    console.err << "the database has no weighlink schema (or an older one); run "
                   "`weighlink-backend migrate --dsn ...` first\n";
  } else {
    console.err << error.message() << " (" << db.last_error() << ")\n";
  }
  return kExitFailure;
}

int bad_station_id(const base::Console& console, std::string_view command,
                   const std::string& station_id) {
  console.err << "weighlink-backend: " << command << ": invalid station id \"" << station_id
              << "\": use 1..64 characters of A-Z a-z 0-9 . _ -\n";
  return kExitUsage;
}

// The key in an agent's station key file (station add --key-file, station set-key); nullopt
// after saying why on stderr.
std::optional<std::vector<unsigned char>> read_key_file(const base::Console& console,
                                                        std::string_view command,
                                                        const std::string& path) {
  auto key = record::read_station_key(path);
  if (!key) {
    console.err << "weighlink-backend: " << command << ": " << key.error().message
                << "; pass the agent's key file (DATA_DIR/station.key or its station_key_file)\n";
    return std::nullopt;
  }
  return std::move(*key);
}

}  // namespace

bool valid_station_id(const std::string& station_id) noexcept {
  if (station_id.empty() || station_id.size() > 64) return false;
  for (char c : station_id) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

int run_migrate(const std::string& dsn, const base::Console& console) {
  pg::PgConnection db(dsn);
  auto applied = pg::migrate(db);
  if (!applied) return fail(console, "migrate", "migration failed", db, applied.error());
  auto status = pg::schema_status(db);
  const int version = status ? status->current_version : pg::latest_schema_version();
  if (applied->empty()) {
    console.out << "schema is up to date at version " << version << "\n";
  } else {
    for (int v : *applied) console.out << "applied migration " << v << "\n";
    console.out << "schema is now at version " << version << "\n";
  }
  return kExitOk;
}

int run_station_add(const std::string& dsn, const std::string& station_id,
                    const std::string& key_file, bool allow_unsigned_weighings,
                    const base::Console& console) {
  if (!valid_station_id(station_id)) return bad_station_id(console, "station add", station_id);
  std::vector<unsigned char> key;
  if (!key_file.empty()) {
    auto loaded = read_key_file(console, "station add", key_file);
    if (!loaded) return kExitUsage;
    key = std::move(*loaded);
  }
  const std::string token = generate_token();
  pg::PgConnection db(dsn);
  auto added = insert_station(db, station_id, sha256_hex(token), key, allow_unsigned_weighings);
  if (!added) {
    if (added.error() == pg::Errc::station_exists) {
      console.err << "weighlink-backend: station add: station \"" << station_id
                  << "\" already exists; choose another --id (or rotate its token later)\n";
      return kExitFailure;
    }
    return fail(console, "station add", "cannot create station \"" + station_id + "\"", db,
                added.error());
  }
  // Only the hash is stored: this is the one chance to copy the token.
  console.out << "created station " << station_id << "\n";
  if (!key.empty()) {
    console.out << "signatures are checked with the key from " << key_file << "\n";
  } else if (allow_unsigned_weighings) {
    console.out << "no signing key: its weighings are recorded unsigned (register the agent's key "
                   "with `station set-key` to check them)\n";
  } else {
    console.out
        << "no signing key: its weighings are refused (unsigned_weighing) until the agent's "
           "key is registered with `station set-key` (or `station set-unsigned-weighings "
           "--id "
        << station_id << " allow`)\n";
  }
  console.out << "token (shown once; put it in the agent's --station-token-file):\n"
              << token << std::endl;
  return kExitOk;
}

int run_station_rotate_token(const std::string& dsn, const std::string& station_id,
                             const base::Console& console) {
  constexpr std::string_view kCommand = "station rotate-token";
  if (!valid_station_id(station_id)) return bad_station_id(console, kCommand, station_id);
  const std::string token = generate_token();
  pg::PgConnection db(dsn);
  auto replaced = replace_station_token(db, station_id, sha256_hex(token));
  if (!replaced) {
    return fail(console, kCommand, "cannot rotate the token of station \"" + station_id + "\"", db,
                replaced.error());
  }
  console.out << "new token for station " << station_id
              << "; the old one is refused from now on. Write it to the agent's "
                 "--station-token-file: the agent reads the file again by itself.\n"
              << "token (shown once):\n"
              << token << std::endl;
  return kExitOk;
}

int run_station_disable(const std::string& dsn, const std::string& station_id,
                        const base::Console& console) {
  if (!valid_station_id(station_id)) return bad_station_id(console, "station disable", station_id);
  pg::PgConnection db(dsn);
  auto disabled = disable_station(db, station_id);
  if (!disabled) {
    return fail(console, "station disable", "cannot disable station \"" + station_id + "\"", db,
                disabled.error());
  }
  console.out << "disabled station " << station_id << "; its token is refused from now on\n";
  return kExitOk;
}

int run_station_set_unsigned_weighings(const std::string& dsn, const std::string& station_id,
                                       bool allow, const base::Console& console) {
  constexpr std::string_view kCommand = "station set-unsigned-weighings";
  if (!valid_station_id(station_id)) return bad_station_id(console, kCommand, station_id);
  pg::PgConnection db(dsn);
  if (auto set = set_unsigned_weighings(db, station_id, allow); !set) {
    return fail(console, kCommand, "cannot change station \"" + station_id + "\"", db, set.error());
  }
  if (allow) {
    console.out << "station " << station_id
                << ": weighings are recorded without a signing key (unsigned); once its key is "
                   "registered every mutation's signature is checked\n";
  } else {
    console.out << "station " << station_id
                << ": without a signing key its weighings are REJECTED unsigned_weighing from now "
                   "on\n";
  }
  return kExitOk;
}

int run_station_set_key(const std::string& dsn, const std::string& station_id,
                        const std::string& key_file, const base::Console& console) {
  constexpr std::string_view kCommand = "station set-key";
  if (!valid_station_id(station_id)) return bad_station_id(console, kCommand, station_id);
  const auto key = read_key_file(console, kCommand, key_file);
  if (!key) return kExitUsage;
  pg::PgConnection db(dsn);
  if (auto set = set_station_key(db, station_id, *key); !set) {
    return fail(console, kCommand, "cannot set the key of station \"" + station_id + "\"", db,
                set.error());
  }
  console.out << "station " << station_id << ": every new mutation's signature is checked with the "
              << "key from " << key_file << " from now on\n";
  return kExitOk;
}

int run_records_verify(const std::string& dsn, const std::string& station_id, std::uint64_t seq,
                       const base::Console& console) {
  constexpr std::string_view kCommand = "records verify";
  if (!valid_station_id(station_id)) return bad_station_id(console, kCommand, station_id);
  if (seq == 0) {
    console.err << "weighlink-backend: records verify: --seq must be 1 or more\n";
    return kExitUsage;
  }
  pg::PgConnection db(dsn);
  if (auto connected = db.ensure_connected(); !connected) {
    return fail(console, kCommand, "cannot verify", db, connected.error());
  }
  auto found = db.exec(
      "SELECT coalesce(m.prev_hash, ''), coalesce(m.record_hash, ''), coalesce(m.signature, ''), "
      "m.signature_verified, encode(s.signing_key, 'hex'), p.record_hash, m.kind, "
      "m.idempotency_key, m.payload_text, m.payload::text, "
      "coalesce((extract(epoch FROM m.created_at) * 1000)::bigint, 0) "
      "FROM mutation_log m JOIN stations s ON s.id = m.station_id "
      "LEFT JOIN mutation_log p ON p.station_id = m.station_id AND p.seq = m.seq - 1 "
      "WHERE m.station_id = $1 AND m.seq = $2",
      {station_id, std::to_string(seq)});
  if (!found) return fail(console, kCommand, "cannot read the record", db, found.error());
  if (found->rows() == 0) {
    console.err << "weighlink-backend: records verify: station \"" << station_id
                << "\" has no record with seq " << seq << " here\n";
    return kExitFailure;
  }
  if (found->is_null(0, 4)) {
    console.err << "weighlink-backend: records verify: station \"" << station_id
                << "\" has no registered key; register it with `weighlink-backend station "
                   "set-key`\n";
    return kExitFailure;
  }
  const auto key = base::from_hex(found->get(0, 4));
  StoredRecord stored;
  stored.seq = seq;
  stored.prev_hash = std::string(found->get(0, 0));
  stored.record_hash = std::string(found->get(0, 1));
  stored.signature = std::string(found->get(0, 2));
  stored.verified_on_arrival = found->get(0, 3) == "t";
  if (!found->is_null(0, 5)) stored.previous_hash = std::string(found->get(0, 5));
  stored.kind = std::string(found->get(0, 6));
  stored.idempotency_key = std::string(found->get(0, 7));
  if (!found->is_null(0, 8)) stored.payload_text = std::string(found->get(0, 8));
  if (!found->is_null(0, 9)) stored.payload_jsonb = std::string(found->get(0, 9));
  stored.created_at_ms = pg::to_int<std::int64_t>(found->get(0, 10));
  auto report = stored_record_check(stored, station_id, key ? *key : std::vector<unsigned char>{});
  report["station_id"] = station_id;
  report["kind"] = stored.kind;
  report["idempotency_key"] = stored.idempotency_key;
  // The evidence files the record lists: each present (held whole, hashing to its name), lost
  // (the station said it could not send it) or not (missing, incomplete, altered).
  if (stored.kind.starts_with("weighlink.")) {
    auto listed = db.exec(std::string(pg::kAttachmentsSelectSql) +
                              " AND m.station_id = $1 AND m.seq = $2 ORDER BY a.value->>'sha256'",
                          {station_id, std::to_string(seq)});
    if (!listed) return fail(console, kCommand, "cannot read the attachments", db, listed.error());
    boost::json::array attachments;
    bool attachments_ok = true;
    for (int i = 0; i < listed->rows(); ++i) {
      const auto a = pg::attachment_row(*listed, i);
      attachments_ok = attachments_ok && a.ok();
      attachments.push_back({{"sha256", a.sha256}, {"state", a.state}, {"detail", a.detail}});
    }
    report["attachments"] = std::move(attachments);
    report["attachments_ok"] = attachments_ok;
    if (!attachments_ok) report["ok"] = false;
  }
  console.out << boost::json::serialize(report) << "\n";
  return report.at("ok").as_bool() ? kExitOk : 3;
}

}  // namespace weighlink::service
