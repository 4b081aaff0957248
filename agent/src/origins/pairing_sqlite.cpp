// The SQLite adapter of origin pairing (pairing.hpp): <data_dir>/origins.db, a rollback-journal
// database of two small tables the agent and the `weighlink-agent origins` command share.
// docs/decisions/0005-origin-pairing-store.md says why SQLite and how the agent sees the CLI's
// changes (PRAGMA data_version).
#include <sqlite3.h>

#ifndef _WIN32
#include <sys/stat.h>
#include <unistd.h>
#endif

#include <functional>
#include <initializer_list>
#include <variant>

#include "weighlink/agent/pairing.hpp"

namespace weighlink::agent {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS decisions(
  origin TEXT PRIMARY KEY,
  decision TEXT NOT NULL CHECK (decision IN ('allowed', 'denied')),
  decided_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS pending(
  origin TEXT PRIMARY KEY,
  first_seen_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  count INTEGER NOT NULL,
  surfaces TEXT NOT NULL
);
PRAGMA user_version = 1;
)sql";

struct CloseDb {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct FinalizeStmt {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};

using Value = std::variant<std::int64_t, std::string>;
// One result row, handed to the caller's reader.
using Row = std::function<void(sqlite3_stmt*)>;

std::string column_text(sqlite3_stmt* s, int col) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, col));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, col))) : std::string();
}

}  // namespace

struct OriginStore::Impl {
  std::unique_ptr<sqlite3, CloseDb> db;
  std::filesystem::path file;
  std::int64_t data_version = -1;

  // io_error: the store's failures are SQLite's (disk full, read-only, locked).
  [[nodiscard]] base::Error failure(const std::string& what) const {
    return base::Error{std::make_error_code(std::errc::io_error),
                       "origin store " + file.string() + ": " + what + ": " +
                           sqlite3_errmsg(db.get()) +
                           "; check that the data directory is writable by this user"};
  }

  // Runs one statement with `values` bound in order; `row` sees each result row.
  [[nodiscard]] base::Expected<void> run(const char* sql, std::initializer_list<Value> values,
                                         const Row& row) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db.get(), sql, -1, &raw, nullptr) != SQLITE_OK) {
      return failure("cannot prepare a statement");
    }
    std::unique_ptr<sqlite3_stmt, FinalizeStmt> stmt(raw);
    int i = 1;
    for (const auto& v : values) {
      if (const auto* n = std::get_if<std::int64_t>(&v)) {
        sqlite3_bind_int64(raw, i++, *n);
      } else {
        const auto& t = std::get<std::string>(v);
        sqlite3_bind_text(raw, i++, t.data(), static_cast<int>(t.size()), SQLITE_TRANSIENT);
      }
    }
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
      if (row) row(raw);
    }
    if (rc != SQLITE_DONE) return failure("a statement failed");
    return {};
  }
  [[nodiscard]] base::Expected<void> exec(const char* sql) {
    char* msg = nullptr;
    const int rc = sqlite3_exec(db.get(), sql, nullptr, nullptr, &msg);
    std::string message;
    if (rc != SQLITE_OK) {
      message = "origin store " + file.string() + ": " + (msg ? msg : sqlite3_errstr(rc)) +
                "; check that the data directory is writable by this user";
    }
    sqlite3_free(msg);
    if (rc != SQLITE_OK) return base::Error{std::make_error_code(std::errc::io_error), message};
    return {};
  }
  // `work` inside BEGIN IMMEDIATE ... COMMIT; rolled back when it fails.
  [[nodiscard]] base::Expected<void> transaction(
      const std::function<base::Expected<void>()>& work) {
    if (auto begun = exec("BEGIN IMMEDIATE"); !begun) return begun;
    auto done = work();
    if (done) done = exec("COMMIT");
    if (!done) (void)exec("ROLLBACK");
    return done;
  }
};

OriginStore::OriginStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OriginStore::~OriginStore() = default;

base::Expected<std::unique_ptr<OriginStore>> OriginStore::open(const std::filesystem::path& file) {
  std::error_code ec;
  const bool existed = std::filesystem::exists(file, ec);
  auto impl = std::make_unique<Impl>();
  impl->file = file;
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(reinterpret_cast<const char*>(file.u8string().c_str()), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  impl->db.reset(raw);
  if (rc != SQLITE_OK) {
    return base::Error{std::make_error_code(std::errc::io_error),
                       "cannot open the origin store " + file.string() + ": " +
                           (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)) +
                           "; check that the data directory exists and is writable by this user"};
  }
  sqlite3_busy_timeout(raw, 5000);
  // The schema is written once, into a new file: opening an existing store writes nothing, so an
  // agent restarted on a full disk still reads the decisions it has (and only new pending
  // requests fail to be saved, logged).
  std::int64_t version = 0;
  if (auto read = impl->run("PRAGMA user_version", {},
                            [&](sqlite3_stmt* s) { version = sqlite3_column_int64(s, 0); });
      !read) {
    return read.error();
  }
  if (version < 1) {
    if (auto created = impl->exec(kSchema); !created) return created.error();
  }
#ifndef _WIN32
  // Created by root (`sudo weighlink-agent origins allow ...` before the service first ran): the
  // file goes to the data directory's owner, the service's user, so the agent can write it.
  struct stat dir {};
  if (!existed && ::geteuid() == 0 &&
      ::stat(file.parent_path().empty() ? "." : file.parent_path().c_str(), &dir) == 0) {
    (void)::chown(file.c_str(), dir.st_uid, dir.st_gid);
  }
#else
  (void)existed;
#endif
  auto store = std::unique_ptr<OriginStore>(new OriginStore(std::move(impl)));
  (void)store->changed();  // the baseline for later calls
  return store;
}

base::Expected<void> OriginStore::load(std::vector<DecidedOrigin>* decisions,
                                       std::vector<PendingOrigin>* pending) {
  decisions->clear();
  pending->clear();
  auto read_decision = [&](sqlite3_stmt* s) {
    DecidedOrigin d;
    d.origin = column_text(s, 0);
    d.decision = column_text(s, 1) == "allowed" ? OriginDecision::allowed : OriginDecision::denied;
    d.decided_at_ms = sqlite3_column_int64(s, 2);
    decisions->push_back(std::move(d));
  };
  auto read_pending = [&](sqlite3_stmt* s) {
    PendingOrigin p;
    p.origin = column_text(s, 0);
    p.first_seen_ms = sqlite3_column_int64(s, 1);
    p.last_seen_ms = sqlite3_column_int64(s, 2);
    p.count = static_cast<std::uint64_t>(sqlite3_column_int64(s, 3));
    const auto surfaces = column_text(s, 4);
    std::size_t start = 0;
    while (start < surfaces.size()) {
      auto comma = surfaces.find(',', start);
      if (comma == std::string::npos) comma = surfaces.size();
      if (comma > start) p.surfaces.insert(surfaces.substr(start, comma - start));
      start = comma + 1;
    }
    pending->push_back(std::move(p));
  };
  if (auto read =
          impl_->run("SELECT origin, decision, decided_at_ms FROM decisions ORDER BY decided_at_ms",
                     {}, read_decision);
      !read) {
    return read;
  }
  return impl_->run(
      "SELECT origin, first_seen_ms, last_seen_ms, count, surfaces FROM pending WHERE "
      "origin NOT IN (SELECT origin FROM decisions) ORDER BY first_seen_ms",
      {}, read_pending);
}

base::Expected<void> OriginStore::decide(const DecidedOrigin& d) {
  return impl_->transaction([&]() -> base::Expected<void> {
    if (auto stored = impl_->run(
            "INSERT INTO decisions(origin, decision, decided_at_ms) VALUES (?, ?, ?) ON "
            "CONFLICT(origin) DO UPDATE SET decision = excluded.decision, decided_at_ms = "
            "excluded.decided_at_ms",
            {d.origin, std::string(to_string(d.decision)), d.decided_at_ms}, {});
        !stored) {
      return stored;
    }
    return impl_->run("DELETE FROM pending WHERE origin = ?", {d.origin}, {});
  });
}

base::Expected<bool> OriginStore::revoke(const std::string& origin) {
  if (auto removed = impl_->run("DELETE FROM decisions WHERE origin = ?", {origin}, {}); !removed) {
    return removed.error();
  }
  return sqlite3_changes(impl_->db.get()) > 0;
}

base::Expected<void> OriginStore::save_pending(const std::vector<PendingOrigin>& pending) {
  return impl_->transaction([&]() -> base::Expected<void> {
    if (auto cleared = impl_->run("DELETE FROM pending", {}, {}); !cleared) return cleared;
    for (const auto& p : pending) {
      std::string surfaces;
      for (const auto& s : p.surfaces) surfaces += (surfaces.empty() ? "" : ",") + s;
      if (auto saved = impl_->run("INSERT INTO pending(origin, first_seen_ms, last_seen_ms, count, "
                                  "surfaces) SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM "
                                  "decisions WHERE origin = ?1)",
                                  {p.origin, p.first_seen_ms, p.last_seen_ms,
                                   static_cast<std::int64_t>(p.count), surfaces},
                                  {});
          !saved) {
        return saved;
      }
    }
    return {};
  });
}

bool OriginStore::changed() {
  std::int64_t version = impl_->data_version;
  (void)impl_->run("PRAGMA data_version", {},
                   [&](sqlite3_stmt* s) { version = sqlite3_column_int64(s, 0); });
  const bool changed = version != impl_->data_version;
  impl_->data_version = version;
  return changed;
}

}  // namespace weighlink::agent
