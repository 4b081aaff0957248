// The Idempotency-Key rules of SPEC §4 as one table, run against the real agent on
// POST /v1/mutations and POST /v1/captures: a missing or invalid key → 400; the first accept → 202
// {"idempotency_key","seq","state":"queued"} (a capture adds "weighing"); the same key with the
// same body → the same answer (200, Idempotent-Replayed: true), nothing enqueued twice; the same
// key with another body → 422 idempotency_key_reused; while the first request with the key is
// still in flight → 409 idempotency_key_in_progress. Then the outbox holds each accepted key
// exactly once, and nothing else.
//
// "In flight" is made deterministic: the test holds a write lock on the agent's outbox.db (its
// commit waits for it; SQLite's busy timeout is 5 s), or, for a capture, keeps the scale in motion
// so that the first capture waits for a stable reading.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <boost/json.hpp>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent_fixture.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using namespace weighlink::testing;

namespace {

enum class Route { mutations, captures };

std::string path_of(Route route) {
  return route == Route::mutations ? "/v1/mutations" : "/v1/captures";
}

enum class Expect { accepted, replay, refused };

// How the first request with the row's key is still running when the row's request is sent.
enum class InFlight {
  no,
  committing,  // its commit waits for a write lock the test holds on outbox.db
  settling,    // (captures) it waits for a stable reading: the scale shows motion
};

struct Row {
  std::string name;
  Route route = Route::mutations;
  std::optional<std::string> key;  // no value: no Idempotency-Key header at all
  std::string body;
  Expect expect = Expect::accepted;
  int status = 202;
  std::string error;  // refused: the error code (empty: any)
  std::string content_type = "application/json";
  InFlight in_flight = InFlight::no;
  std::string first_body;  // in flight: the first request's body (it must get 202)

  [[nodiscard]] Row sent_as(std::string type) const {
    Row r = *this;
    r.content_type = std::move(type);
    return r;
  }
  [[nodiscard]] Row while_first(InFlight how, std::string first) const {
    Row r = *this;
    r.in_flight = how;
    r.first_body = std::move(first);
    return r;
  }
};

Row accepted(std::string name, Route route, std::string key, std::string body) {
  Row r;
  r.name = std::move(name);
  r.route = route;
  r.key = std::move(key);
  r.body = std::move(body);
  return r;
}

Row replay(std::string name, Route route, std::string key, std::string body) {
  Row r = accepted(std::move(name), route, std::move(key), std::move(body));
  r.expect = Expect::replay;
  r.status = 200;
  return r;
}

Row refused(std::string name, Route route, std::optional<std::string> key, std::string body,
            int status, std::string error) {
  Row r;
  r.name = std::move(name);
  r.route = route;
  r.key = std::move(key);
  r.body = std::move(body);
  r.expect = Expect::refused;
  r.status = status;
  r.error = std::move(error);
  return r;
}

// One route's request bodies: `a` and its variants are the same request, `b` another one.
struct Bodies {
  std::string a, a_spaced, a_reordered, b;
  std::string slow, slow_b;  // captures: waiting up to 8 s for a stable reading
};

const Bodies kMutation{
    R"({"kind":"note.added","payload":{"text":"first","n":1}})",
    "{ \"kind\" : \"note.added\",\n  \"payload\" : { \"text\" : \"first\", \"n\" : 1 } }\n",
    R"({"payload":{"text":"first","n":1},"kind":"note.added"})",
    R"({"kind":"note.added","payload":{"text":"second","n":2}})",
    "",
    ""};
const Bodies kCapture{
    R"({"scale":"main","operator":"op-1","timeout_ms":3000})",
    "{ \"scale\" : \"main\",\n  \"operator\" : \"op-1\", \"timeout_ms\" : 3000 }\n",
    R"({"operator":"op-1","timeout_ms":3000,"scale":"main"})",
    R"({"scale":"main","operator":"op-2","timeout_ms":3000})",
    R"({"scale":"main","operator":"op-1","timeout_ms":8000})",
    R"({"scale":"main","operator":"op-2","timeout_ms":8000})"};

std::vector<Row> idempotency_table() {
  std::vector<Row> rows;
  constexpr auto kMissing = "idempotency_key_missing";
  constexpr auto kInvalid = "idempotency_key_invalid";
  constexpr auto kReused = "idempotency_key_reused";
  constexpr auto kInProgress = "idempotency_key_in_progress";
  for (const auto route : {Route::mutations, Route::captures}) {
    const auto& b = route == Route::mutations ? kMutation : kCapture;
    const std::string p = route == Route::mutations ? "m-" : "c-";
    const std::string upper = route == Route::mutations ? "M-" : "C-";
    const std::vector<Row> route_rows = {
        refused("no Idempotency-Key header", route, std::nullopt, b.a, 400, kMissing),
        refused("an empty Idempotency-Key", route, "", b.a, 400, kMissing),
        refused("a key of 256 characters", route, p + std::string(254, 'k'), b.a, 400, kInvalid),
        refused("a key with a space", route, p + "two words", b.a, 400, kInvalid),
        refused("a key with a tab", route, p + "tab\there", b.a, 400, kInvalid),
        refused("a key with a non-ASCII letter", route, p + "cl\xC3\xA9", b.a, 400, kInvalid),
        // Not a valid HTTP field value (RFC 9110 5.5): refused before the API sees it, but still
        // with an answer (RFC 9112: a 400), whatever its error code.
        refused("a key with a control character", route, p + "ctl\x01", b.a, 400, ""),
        accepted("the first use of a key", route, p + "k1", b.a),
        replay("the same key and body again", route, p + "k1", b.a),
        replay("the same key and body with other whitespace", route, p + "k1", b.a_spaced),
        // JSON object members are unordered (RFC 8259), and the agent hashes "canonical JSON".
        replay("the same key and body with members in another order", route, p + "k1",
               b.a_reordered),
        refused("the same key with another body", route, p + "k1", b.b, 422, kReused),
        replay("the first body again after that 422", route, p + "k1", b.a),
        accepted("a key of 255 characters, the longest allowed", route, p + std::string(253, 'k'),
                 b.a),
        accepted("keys are case-sensitive", route, upper + "K1", b.b),
        refused("a key whose request is refused (not JSON)", route, p + "k2", "plate KAA 123A", 415,
                "unsupported_media_type")
            .sent_as("text/plain"),
        accepted("that key again with a valid request", route, p + "k2", b.a),
        refused("the same key and body while the first is being committed", route, p + "k3", b.a,
                409, kInProgress)
            .while_first(InFlight::committing, b.a),
        replay("that key once the first is committed", route, p + "k3", b.a),
        refused("another body while the first is being committed", route, p + "k4", b.b, 409,
                kInProgress)
            .while_first(InFlight::committing, b.a),
        replay("the first body once it is committed", route, p + "k4", b.a),
    };
    rows.insert(rows.end(), route_rows.begin(), route_rows.end());
  }
  rows.push_back(refused("the same key and body while the first waits for a stable reading",
                         Route::captures, "c-k5", kCapture.slow, 409, kInProgress)
                     .while_first(InFlight::settling, kCapture.slow));
  rows.push_back(
      replay("that key once the first captured", Route::captures, "c-k5", kCapture.slow));
  rows.push_back(refused("another body while the first waits for a stable reading", Route::captures,
                         "c-k6", kCapture.slow_b, 409, kInProgress)
                     .while_first(InFlight::settling, kCapture.slow));
  rows.push_back(replay("the first body once it captured", Route::captures, "c-k6", kCapture.slow));
  rows.push_back(refused("a key accepted by the other route", Route::captures, "m-k1", kCapture.a,
                         422, kReused));
  rows.push_back(refused("a key accepted by the other route", Route::mutations, "c-k1", kMutation.a,
                         422, kReused));
  return rows;
}

// A write transaction on the agent's outbox from this process: the agent's next commit waits
// (SQLite busy timeout) until release().
class OutboxWriteLock {
 public:
  explicit OutboxWriteLock(const std::filesystem::path& file) {
    const int rc = sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr);
    std::string error = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    if (rc == SQLITE_OK) {
      sqlite3_busy_timeout(db_, 5000);
      if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK) return;
      error = sqlite3_errmsg(db_);
    }
    sqlite3_close(db_);
    db_ = nullptr;
    FAIL("cannot lock " << file << ": " << error);
  }
  ~OutboxWriteLock() { release(); }
  OutboxWriteLock(const OutboxWriteLock&) = delete;
  OutboxWriteLock& operator=(const OutboxWriteLock&) = delete;
  void release() {
    if (!db_) return;
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(db_);
    db_ = nullptr;
  }

 private:
  sqlite3* db_ = nullptr;
};

std::optional<json::object> json_object(const HttpResult& r) {
  json::error_code ec;
  auto v = json::parse(r.body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return v.as_object();
}

class TableRunner {
 public:
  TableRunner(AgentProcess& agent, StreamingScale& indicator, std::filesystem::path outbox_file)
      : agent_(agent), indicator_(indicator), outbox_file_(std::move(outbox_file)) {
    // The audit events of the agent's first start hold the first seqs.
    last_seq_ = agent_status(agent_.http).at("audit").at("counter").as_int64();
  }

  void run(const Row& row) {
    INFO(path_of(row.route) << " | " << row.name << " | key "
                            << (row.key ? "'" + *row.key + "'" : std::string("(none)")));
    switch (row.in_flight) {
      case InFlight::no:
        check(row, send(row, row.body));
        break;
      case InFlight::committing:
        run_while_committing(row);
        break;
      case InFlight::settling:
        run_while_settling(row);
        break;
    }
  }

  [[nodiscard]] const std::set<std::string>& accepted_keys() const { return accepted_keys_; }
  [[nodiscard]] const std::set<std::string>& capture_keys() const { return capture_keys_; }
  [[nodiscard]] std::int64_t last_seq() const { return last_seq_; }

 private:
  HttpResult send(const Row& row, const std::string& body) {
    std::map<std::string, std::string> headers{{"Content-Type", row.content_type}};
    if (row.key) headers["Idempotency-Key"] = *row.key;
    try {
      return http_request(agent_.http, "POST", path_of(row.route), headers, body, 20s);
    } catch (const std::exception& e) {
      HttpResult none;  // status 0: the agent closed the connection without an answer
      none.body = std::string("(no answer: ") + e.what() + ")";
      return none;
    }
  }

  std::future<HttpResult> send_async(const Row& row, const std::string& body) {
    return std::async(std::launch::async, [this, row, body] { return send(row, body); });
  }

  // Waits until the agent's log has `marker` (the agent logs each step of a request).
  void wait_for_log(const std::string& marker) {
    const bool seen = eventually(
        [&] { return agent_.process->log().find(marker) != std::string::npos; }, 10s, 10ms);
    REQUIRE_MESSAGE(seen, "the agent never logged '" << marker << "'");
  }

  // The first request is queued to the outbox writer, whose commit waits for our lock.
  void run_while_committing(const Row& row) {
    OutboxWriteLock lock(outbox_file_);
    auto first = send_async(row, row.first_body);
    // Logged on the agent's only I/O thread right before the request goes to the outbox writer.
    wait_for_log(row.route == Route::mutations ? "key " + *row.key + " received\n"
                                               : ") key " + *row.key + "\n");
    auto second = send(row, row.body);
    // SPEC §4: 202 only once the mutation is on disk, so not while its commit cannot happen. The
    // agent has one I/O thread: an answer to the first written before the commit would have gone
    // out before it read the second, whose answer we already hold.
    const bool answered_before_commit = first.wait_for(0s) == std::future_status::ready;
    lock.release();
    CHECK_MESSAGE(!answered_before_commit, "the first request was answered before its commit");
    check(row, second);
    check_first(row, first.get());
  }

  // The first capture waits for a stable reading while the scale is in motion.
  void run_while_settling(const Row& row) {
    indicator_.set(mt_frame("18240", /*motion=*/true));
    {
      WsClient ws(agent_.http, "/v1/live");
      read_until(ws, [](const json::object& m) {
        return m.at("type") == "reading" && m.at("stable") == false;
      });
    }
    auto first = send_async(row, row.first_body);
    wait_for_log("capture requested on scale main key " + *row.key + "\n");
    const auto second_answer = send(row, row.body);
    // The first capture can only end with a stable reading (sent below) or at its own timeout,
    // when it is refused (which check_first catches): still open means the second did not wait.
    const bool answered_while_first_waits = first.wait_for(0s) != std::future_status::ready;
    indicator_.set(mt_frame("18240"));
    const auto first_answer = first.get();
    CHECK_MESSAGE(answered_while_first_waits,
                  "the second request with the key was not answered while the first capture was "
                  "waiting for a stable reading: it waited too, and got "
                      << second_answer.status << " " << second_answer.body);
    check(row, second_answer);
    check_first(row, first_answer);
  }

  void check_first(const Row& row, const HttpResult& r) {
    Row first = accepted("(the first request with that key)", row.route, *row.key, row.first_body);
    INFO("the first request: " << r.status << " " << r.body);
    check(first, r);
  }

  void check(const Row& row, const HttpResult& r) {
    INFO("answer: " << r.status << " " << r.body);
    CHECK(r.status == row.status);
    const auto body = json_object(r);
    if (!body) FAIL_CHECK("the answer is not a JSON object");
    if (!body) return;
    // Whatever was expected, a 202 queued something: keep the books on what the outbox holds.
    if (r.status == 202) record_accepted(row.route, *body);
    if (r.status != row.status) return;
    const auto& key = row.key.value_or("");
    switch (row.expect) {
      case Expect::accepted:
        CHECK(body->at("idempotency_key").as_string() == key);
        CHECK(body->at("state") == "queued");
        if (row.route == Route::mutations) {
          CHECK(body->size() == 3);
        } else {
          CHECK(body->size() == 4);
          CHECK(body->at("weighing").at("weight") == "18240");
          CHECK(body->at("weighing").at("type") == "static");
        }
        break;
      case Expect::replay:
        if (!answers_.contains(key)) FAIL_CHECK("no first answer to compare for key " << key);
        if (answers_.contains(key)) CHECK(*body == answers_.at(key));
        CHECK(header(r, "idempotent-replayed") == "true");
        break;
      case Expect::refused:
        if (!row.error.empty()) CHECK(body->at("error").as_string() == row.error);
        CHECK(!body->at("message").as_string().empty());
        CHECK(!header(r, "x-correlation-id").empty());
        CHECK(body->at("correlation_id").as_string() == header(r, "x-correlation-id"));
        break;
    }
  }

  // A 202: the next seq (nothing else was queued in between), a key never accepted before.
  void record_accepted(Route route, const json::object& body) {
    const std::string key(body.at("idempotency_key").as_string());
    const auto seq = body.at("seq").as_int64();
    CHECK(seq == last_seq_ + 1);
    last_seq_ = std::max(last_seq_, seq);
    CHECK_MESSAGE(!answers_.contains(key), "key " << key << " was accepted (202) twice");
    if (!answers_.contains(key)) answers_[key] = body;
    accepted_keys_.insert(key);
    if (route == Route::captures) capture_keys_.insert(key);
  }

  static std::string header(const HttpResult& r, const std::string& name) {
    const auto it = r.headers.find(name);
    return it == r.headers.end() ? std::string() : it->second;
  }

  AgentProcess& agent_;
  StreamingScale& indicator_;
  std::filesystem::path outbox_file_;
  std::map<std::string, json::object> answers_;  // the first answer per accepted key
  std::set<std::string> accepted_keys_;
  std::set<std::string> capture_keys_;
  std::int64_t last_seq_ = 0;
};

}  // namespace

TEST_CASE(
    "idempotency: the SPEC table of Idempotency-Key cases on /v1/mutations and /v1/captures") {
  TempDir dir("wl-idempotency");
  PtyScale pty(dir / "scale");
  StreamingScale indicator(pty, mt_frame("18240"));
  // The table captures again and again from one standing weight to exercise the key rules, so
  // zero return (between vehicles; tests/integration/legal_test.cpp) is off here.
  AgentProcess agent(dir, {},
                     "scales:\n  - {id: main, source: 'serial:" + pty.path() +
                         "', protocol: mt-continuous, zero_return: false}\n");
  REQUIRE(eventually(
      [&] {
        auto s = agent_status(agent.http);
        return s.at("scales").at(0).at("stale") == false;
      },
      5s));

  TableRunner runner(agent, indicator, dir / "data" / "outbox.db");
  for (const auto& row : idempotency_table()) runner.run(row);

  // Each accepted key exactly once, seqs 1..N, and nothing that was refused.
  check_outbox(agent.http, runner.accepted_keys(), "after the table");
  const auto rows = outbox_rows(agent.http);
  std::set<std::string> keys;
  std::size_t audit_events = 0;
  for (const auto& row : rows) {
    if (row.at("kind") == "weighlink.audit_event" && ++audit_events) continue;
    const std::string key(row.at("idempotency_key").as_string());
    keys.insert(key);
    const bool capture = runner.capture_keys().contains(key);
    CHECK(row.at("kind") == (capture ? "weighing.captured" : "note.added"));
  }
  CHECK(keys == runner.accepted_keys());
  CHECK(rows.size() == runner.accepted_keys().size() + audit_events);
  const auto status = agent_status(agent.http);
  CHECK(status.at("outbox").at("last_seq").as_int64() == runner.last_seq());
  CHECK(status.at("outbox").at("pending").as_int64() ==
        static_cast<std::int64_t>(runner.accepted_keys().size() + audit_events));
  CHECK(agent.process->running());
}
