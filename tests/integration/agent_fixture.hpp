#pragma once
// What the agent's integration tests share: the real weighlink-agent started on loopback with a
// pty scale, indicator frames, and reading the live socket until a message matches.

#include <doctest/doctest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "weighlink/scale/decimal.hpp"
#include "weighlink/scale/encode.hpp"
#include "weighlink/testing/backend.hpp"
#include "weighlink/testing/http_client.hpp"
#include "weighlink/testing/pg_cluster.hpp"
#include "weighlink/testing/process.hpp"
#include "weighlink/testing/pty_scale.hpp"

namespace weighlink::testing {

// A Toledo continuous frame showing `weight` (stable unless `motion`).
inline std::string mt_frame(const char* weight, bool motion = false) {
  scale::DisplayState state;
  state.weight = *scale::Decimal::parse(weight);
  state.tare = *scale::Decimal::parse("0");
  state.motion = motion;
  return scale::encode_mt_continuous(state, /*checksum=*/true);
}

// An indicator that streams: writes the current frame to the pty every `period` until stopped,
// as a real one does (a frame written once goes stale after stale_after).
class StreamingScale {
 public:
  StreamingScale(PtyScale& pty, std::string frame,
                 std::chrono::milliseconds period = std::chrono::milliseconds(100))
      : pty_(pty), frame_(std::move(frame)) {
    thread_ = std::thread([this, period] {
      std::unique_lock lock(mutex_);
      while (!stop_) {
        if (!paused_) pty_.write(frame_);
        wake_.wait_for(lock, period);
      }
    });
  }
  ~StreamingScale() { stop(); }
  void set(std::string frame) {
    std::lock_guard lock(mutex_);
    frame_ = std::move(frame);
    paused_ = false;
    wake_.notify_one();
  }
  // The indicator goes silent (cable pulled); set() resumes.
  void pause() {
    std::lock_guard lock(mutex_);
    paused_ = true;
  }
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
      wake_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  PtyScale& pty_;
  std::string frame_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool paused_ = false;
  std::thread thread_;
};

// weighlink-agent on 127.0.0.1:0 with its ready file, data dir and log in `dir`; `config` (YAML)
// is written to dir/agent.yaml and passed with --config when not empty.
struct AgentProcess {
  std::unique_ptr<Process> process;
  std::map<std::string, std::string> ready;
  std::string http;

  AgentProcess(const TempDir& dir, const std::vector<std::string>& extra,
               const std::string& config = {}) {
    std::vector<std::string> argv = {
        bin("weighlink-agent"),         "--listen",   "127.0.0.1:0",          "--ready-file",
        (dir / "agent.ready").string(), "--data-dir", (dir / "data").string()};
    // Station st-1 unless the test names one.
    if (std::find(extra.begin(), extra.end(), "--station-id") == extra.end()) {
      argv.insert(argv.end(), {"--station-id", "st-1"});
    }
    if (!config.empty()) {
      std::ofstream(dir / "agent.yaml") << config;
      argv.emplace_back("--config");
      argv.push_back((dir / "agent.yaml").string());
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    std::filesystem::remove(dir / "agent.ready");
    process = std::make_unique<Process>(argv, dir / "agent.log");
    ready = process->wait_ready(dir / "agent.ready");
    http = ready.at("http");
  }
  [[nodiscard]] std::string address(const char* key) const { return ready.at(key); }
  // The port of a ready-file address ("127.0.0.1:41234" -> "41234").
  [[nodiscard]] std::string port(const char* key) const {
    const auto a = address(key);
    return a.substr(a.rfind(':') + 1);
  }
};

// The agent's weighlink_agent_live_clients gauge.
inline int live_clients(const std::string& http) {
  const auto body = http_request(http, "GET", "/metrics").body;
  const std::string name = "weighlink_agent_live_clients ";
  const auto at = body.find("\n" + name);
  REQUIRE(at != std::string::npos);
  return std::stoi(body.substr(at + 1 + name.size()));
}

// Reads live messages until one satisfies `pred`; fails the test after `timeout`.
inline boost::json::object read_until(
    WsClient& ws, const std::function<bool(const boost::json::object&)>& pred,
    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto msg = ws.read(std::max(left, std::chrono::milliseconds(1)));
    if (!msg) break;
    auto v = boost::json::parse(*msg);
    if (v.is_object() && pred(v.as_object())) return v.as_object();
  }
  FAIL("no matching live message in time");
  return {};
}

inline HttpResult post_json(const std::string& http, const std::string& target,
                            const std::string& key, const std::string& body,
                            std::map<std::string, std::string> headers = {},
                            std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  headers["Content-Type"] = "application/json";
  if (!key.empty()) headers["Idempotency-Key"] = key;
  return http_request(http, "POST", target, headers, body, timeout);
}

inline boost::json::object body_of(const HttpResult& r) {
  auto v = boost::json::parse(r.body);
  REQUIRE(v.is_object());
  return v.as_object();
}

// The agent's configuration for TruConnect tests, as the TruLoad web app meets it: compatibility on
// (ports 0), station ROMIA, the web app's origin allowed, one scale `main` on the pty `source`;
// `extra` lines (YAML) are added at the top level.
inline std::string truconnect_config(const std::string& source,
                                     const std::string& protocol = "mt-continuous",
                                     const std::string& mode = "mobile",
                                     const std::string& extra = {}) {
  return "allowed_origins: ['https://truload.example.org']\n"
         "capture_timeout_ms: 1500\n" +
         extra +
         "compat:\n"
         "  truconnect: {enabled: true, ws_listen: '127.0.0.1:0', http_listen: '127.0.0.1:0',\n"
         "               station_code: ROMIA, station_name: Rongo, capture_mode: " +
         mode +
         "}\n"
         "scales:\n"
         "  - {id: main, source: 'serial:" +
         source + "', protocol: " + protocol + ", stale_after_ms: 600}\n";
}

// The data of the next TruConnect message of `event` (others are skipped); fails the test after
// `timeout`.
inline boost::json::object next_event(
    WsClient& ws, const std::string& event,
    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto m = read_until(
      ws, [&](const boost::json::object& o) { return o.at("event") == boost::json::value(event); },
      timeout);
  CHECK(m.at("timestamp").is_string());
  return m.at("data").as_object();
}

// The items of GET `target` (an /v1/outbox listing) other than the audit events the agent records
// itself at its first start (docs/legal-metrology.md): what the test put there.
inline boost::json::array without_audit(const boost::json::value& listing) {
  boost::json::array out;
  for (const auto& item : listing.at("items").as_array()) {
    if (item.at("kind") != "weighlink.audit_event") out.push_back(item);
  }
  return out;
}

// The agent's GET /v1/status.
inline boost::json::object agent_status(const std::string& http) {
  return body_of(http_request(http, "GET", "/v1/status"));
}

// Zero return (docs/legal-metrology.md): the indicator shows 0 until the agent has seen it (after a
// weighing the next one waits for it), then `next` (the next vehicle) until the agent has that.
// Scale "main" of `http`.
inline void return_to_zero(StreamingScale& scale, const std::string& http, const char* next) {
  scale.set(mt_frame("0"));
  REQUIRE(eventually(
      [&] {
        const auto status = agent_status(http);
        return status.at("scales").at(0).at("zero_return").at("required") == false;
      },
      std::chrono::seconds(10)));
  // Connected now, its first reading is the zero (a socket opened before would get the weighed
  // vehicle's reading first).
  WsClient ws(http, "/v1/live");
  scale.set(mt_frame(next));
  read_until(ws, [&](const boost::json::object& m) {
    return m.at("type") == "reading" && m.at("weight") == next;
  });
}

// A real weighlink-backend on a throwaway PostgreSQL cluster with station `station_id`
// registered; its token is written to `token_file()` for the agent's --station-token-file.
class StationBackend {
 public:
  StationBackend(const TempDir& dir, const std::string& station_id = "st-1",
                 const std::vector<std::string>& serve_args = {})
      : token_file_(dir / "token") {
    migrate(pg_.dsn());
    write_secret_file(token_file_, add_station(pg_.dsn(), station_id) + "\n");
    server_.emplace(pg_.dsn(), dir.path(), serve_args);
  }
  // Registers `key_file` (the agent's station key) as the station's signing key: the backend
  // checks every new mutation's signature from then on.
  void set_key(const std::filesystem::path& key_file, const std::string& station_id = "st-1") {
    auto set = run({bin("weighlink-backend"), "station", "set-key", "--dsn", pg_.dsn(), "--id",
                    station_id, "--key-file", key_file.string()});
    REQUIRE_MESSAGE(set.exit_code == 0, set.output);
  }
  [[nodiscard]] const PgCluster& pg() const { return pg_; }
  [[nodiscard]] PgCluster& pg() { return pg_; }  // to stop and start it
  [[nodiscard]] const std::string& grpc() const { return server_->grpc(); }
  [[nodiscard]] const std::string& http() const { return server_->http(); }
  [[nodiscard]] const std::filesystem::path& token_file() const { return token_file_; }
  // The agent flags that point it at this backend, or at `address` (a proxy in front of it).
  [[nodiscard]] std::vector<std::string> agent_args() const { return agent_args(grpc()); }
  [[nodiscard]] std::vector<std::string> agent_args(const std::string& address) const {
    return {"--backend", address, "--station-token-file", token_file_.string()};
  }

 private:
  PgCluster pg_;
  std::filesystem::path token_file_;
  std::optional<BackendServer> server_;
};

// Every row of the outbox behind `http`, paging in seq order.
inline std::vector<boost::json::object> outbox_rows(const std::string& http) {
  std::vector<boost::json::object> rows;
  std::string after = "0";
  while (true) {
    auto page = body_of(http_request(http, "GET", "/v1/outbox?limit=1000&after=" + after));
    for (const auto& item : page.at("items").as_array()) rows.push_back(item.as_object());
    if (page.at("next_after").is_null()) break;
    after = std::to_string(page.at("next_after").as_int64());
  }
  return rows;
}

// The outbox behind `http` holds every key of `acknowledged` exactly once, in seq order 1..N with
// no gap; `where` names the cycle or copy in a failure.
inline void check_outbox(const std::string& http, const std::set<std::string>& acknowledged,
                         const std::string& where) {
  const auto rows = outbox_rows(http);
  std::set<std::string> keys;
  std::int64_t expected_seq = 1;
  for (const auto& row : rows) {
    const auto seq = row.at("seq").as_int64();
    if (seq != expected_seq) {
      FAIL(where << ": seq " << seq << " where " << expected_seq
                 << " was expected (a gap or disorder)");
    }
    ++expected_seq;
    const std::string key(row.at("idempotency_key").as_string());
    if (!keys.insert(key).second) FAIL(where << ": key " << key << " twice");
  }
  for (const auto& key : acknowledged) {
    if (!keys.contains(key)) FAIL(where << ": acknowledged key " << key << " lost");
  }
}

}  // namespace weighlink::testing
