// The camera evidence component (cameras.hpp).
#include "devices/camera/cameras.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "core/api_common.hpp"
#include "devices/camera/anpr_listener.hpp"
#include "devices/camera/camera_worker.hpp"
#include "devices/camera/image_routes.hpp"
#include "weighlink/agent/camera/capture_images.hpp"
#include "weighlink/agent/camera/image_retention.hpp"
#include "weighlink/base/credential_files.hpp"
#include "weighlink/base/hash.hpp"
#include "weighlink/base/timestamp.hpp"
#include "weighlink/record/exact_json.hpp"

namespace weighlink::agent::camera {
namespace {

namespace json = boost::json;

// The still of every camera is in (or its deadline passed) this long after the latest deadline.
constexpr std::chrono::milliseconds kGrace{1000};
// How often the archive's trim point is looked at; a sweep runs when it moved (and at start).
constexpr std::chrono::minutes kRetentionCheck{10};
// An image file this young is never swept: its record may still be on its way to the outbox.
constexpr std::chrono::seconds kRetentionGrace{3600};

// One thread that runs image sweeps, off the io thread; a request while one runs is coalesced.
class Sweeper {
 public:
  explicit Sweeper(std::function<void()> sweep)
      : sweep_(std::move(sweep)), thread_([this] { loop(); }) {}
  ~Sweeper() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void request() {
    {
      std::lock_guard lock(mu_);
      wanted_ = true;
    }
    cv_.notify_one();
  }

 private:
  void loop() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stop_ || wanted_; });
      if (stop_) return;
      wanted_ = false;
      lock.unlock();
      sweep_();
      lock.lock();
    }
  }
  std::function<void()> sweep_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool wanted_ = false;
  bool stop_ = false;
  std::thread thread_;
};

struct CameraState {
  std::string state = "ok";  // ok until the first still says otherwise
  std::string detail = "no still taken yet";
  std::int64_t since_ms = 0;
  std::string last_sha;
  std::string last_at;
  std::map<std::string, std::uint64_t> shots;  // by result: ok or the missing reason
};

// A plate an ANPR camera read, offered for the next weighing on its scale.
struct PlateOffer {
  std::string plate, camera, confidence, image_sha256, received_at;
  std::chrono::steady_clock::time_point until;
};

// One images record being assembled: a slot per camera, filled on the io thread.
struct Pending {
  CaptureImages record;
  std::string key;
  std::size_t left = 0;
  bool finished = false;
};

class Cameras final : public DeviceComponent {
 public:
  explicit Cameras(const DeviceEnv& env) : env_(env), station_id_(env.config->station_id) {
    const auto now = to_ms(env_.clock->now());
    for (const auto& c : env_.config->cameras.cameras) {
      std::string password;
      if (!c.password_file.empty()) {
        // Checked readable at load; a file removed since is a camera that cannot log in.
        auto secret = base::read_token_file(c.password_file);
        if (secret)
          password = *secret;
        else
          spdlog::warn("camera {}: {}", c.id, secret.error().message);
      }
      workers_.push_back(std::make_unique<CameraWorker>(c, std::move(password)));
      states_[c.id].since_ms = now;
    }
  }

  ~Cameras() override { stop(); }

  void start() override {
    if (sweeper_) return;
    sweeper_ = std::make_unique<Sweeper>([outbox = env_.outbox, blobs = env_.blobs,
                                          removed = removed_] {
      const auto r = sweep_images(*outbox, *blobs, kRetentionGrace);
      if (!r.error.empty()) {
        spdlog::warn("image retention: {}; no image deleted, retried at the next sweep", r.error);
      } else if (r.removed > 0) {
        spdlog::info("image retention: {} of {} image files no record refers to any more deleted",
                     r.removed, r.files);
      }
      *removed += r.removed;
    });
    sweeper_->request();  // at start
    check_retention();
    start_anpr();
  }

  void stop() override {
    *alive_ = false;
    if (anpr_) anpr_->stop();
    workers_.clear();  // joins
    sweeper_.reset();
  }

  void health(std::vector<DeviceHealth>& out) const override {
    for (const auto& w : workers_) {
      const auto& id = w->config().id;
      const auto& s = states_.at(id);
      DeviceHealth h{id, "camera", s.state, s.detail, s.since_ms, {}};
      h.extra["type"] = w->config().type;
      h.extra["last_image_sha256"] =
          s.last_sha.empty() ? json::value(nullptr) : json::value(s.last_sha);
      h.extra["last_image_at"] = s.last_at.empty() ? json::value(nullptr) : json::value(s.last_at);
      out.push_back(std::move(h));
    }
    for (const auto& c : env_.config->cameras.anpr.cameras) {
      DeviceHealth h{c.id,
                     "camera",
                     anpr_error_.empty() ? "ok" : "error",
                     anpr_error_.empty() ? "ANPR: no plate pushed yet" : anpr_error_,
                     anpr_since_,
                     {}};
      h.extra["type"] = "anpr";
      if (auto it = last_plate_.find(c.id); it != last_plate_.end()) {
        h.detail = "ANPR: last plate " + it->second;
      }
      out.push_back(std::move(h));
    }
  }

  void metrics(std::string& out) const override {
    if (workers_.empty()) return;
    out +=
        "# HELP weighlink_camera_shots_total Stills asked of each camera, by result (ok or why the "
        "image is missing).\n# TYPE weighlink_camera_shots_total counter\n";
    for (const auto& [id, s] : states_) {
      for (const auto& [result, n] : s.shots) {
        out += "weighlink_camera_shots_total{camera=\"" + id + "\",result=\"" + result + "\"} " +
               std::to_string(n) + "\n";
      }
    }
    out +=
        "# HELP weighlink_camera_image_records_total weighlink.capture_images records written.\n"
        "# TYPE weighlink_camera_image_records_total counter\n"
        "weighlink_camera_image_records_total " +
        std::to_string(records_) + "\n";
    out +=
        "# HELP weighlink_camera_image_record_failures_total capture_images records the outbox "
        "refused (full, storage error).\n# TYPE weighlink_camera_image_record_failures_total "
        "counter\nweighlink_camera_image_record_failures_total " +
        std::to_string(record_failures_) + "\n";
    out +=
        "# HELP weighlink_camera_images_removed_total Image files deleted by retention (no record "
        "refers to them any more).\n# TYPE weighlink_camera_images_removed_total counter\n"
        "weighlink_camera_images_removed_total " +
        std::to_string(removed_->load()) + "\n";
  }

  bool handle(const HttpRequest& request, const std::string& path,
              const std::string& correlation_id, Respond& respond) override {
    if (path == "/v1/anpr/latest") {
      latest_plate(request, correlation_id, respond);
      return true;
    }
    return handle_image_routes(*env_.outbox, *env_.blobs, request, path, correlation_id, respond);
  }

  void status(json::object& status) const override {
    status["camera_images"] = json::object{{"removed_by_retention", removed_->load()},
                                           {"records", records_},
                                           {"record_failures", record_failures_}};
    if (env_.config->cameras.anpr.listen.empty()) return;
    json::array offers;
    const auto now = env_.clock->steady_now();
    for (const auto& [scale, o] : offers_) {
      if (o.until > now) offers.push_back(offer_json(scale, o));
    }
    status["anpr"] = json::object{{"listen", anpr_address_}, {"offers", std::move(offers)}};
  }

  void on_recorded(const RecordedWeighing& w) override {
    if (w.replayed) return;  // observed when it was first recorded
    // An offered plate is for the next weighing on its scale only.
    offers_.erase(w.scale_id);
    offers_.erase("");
    CaptureImages r;
    r.trigger = "capture";
    r.weighing_seq = w.row.seq;
    r.weighing_key = w.row.idempotency_key;
    r.record_hash = w.row.record_hash;
    // The scale's axle stills since its last weighing belong to this one (an axle session's).
    if (auto it = axle_images_.find(w.scale_id); it != axle_images_.end()) {
      r.axle_images = std::move(it->second);
      axle_images_.erase(it);
    }
    shoot(w.scale_id, std::move(r), images_key(w.row.idempotency_key), false);
  }

  void on_axle(const CapturedAxle& a) override {
    CaptureImages r;
    r.trigger = "axle";
    r.axle_number = a.number;
    r.axle_key = a.idempotency_key;
    if (shoot(a.scale_id, std::move(r), images_key(a.idempotency_key), true)) {
      axle_images_[a.scale_id].emplace_back(a.number, images_key(a.idempotency_key));
    }
  }

 private:
  static json::object offer_json(const std::string& scale, const PlateOffer& o) {
    return json::object{
        {"scale", scale.empty() ? json::value(nullptr) : json::value(scale)},
        {"plate", o.plate},
        {"camera", o.camera},
        {"confidence", o.confidence.empty() ? json::value(nullptr) : json::value(o.confidence)},
        {"image_sha256",
         o.image_sha256.empty() ? json::value(nullptr) : json::value(o.image_sha256)},
        {"received_at", o.received_at}};
  }

  void start_anpr() {
    const auto& cfg = env_.config->cameras.anpr;
    if (cfg.listen.empty() || anpr_) return;
    std::weak_ptr<bool> alive = alive_;
    anpr_ = std::make_unique<AnprListener>(
        cfg, [this, alive, blobs = env_.blobs, post = env_.post](PlatePush push) {
          PlateOffer o{push.event.plate,
                       push.camera,
                       push.event.confidence,
                       {},
                       base::format_utc_timestamp_ms(std::chrono::system_clock::now()),
                       {}};
          if (!push.event.jpeg.empty()) {
            auto shot = checked_jpeg(std::move(push.event.jpeg), kMaxPlateEventBytes);
            if (auto sha = shot.ok()
                               ? blobs->put(shot.jpeg)
                               : base::Expected<std::string>(base::invalid_argument(shot.detail))) {
              o.image_sha256 = *sha;
            } else {
              spdlog::warn("ANPR camera {}: plate {} kept without its picture: {}", push.camera,
                           o.plate, sha.error().message);
            }
          }
          post([this, alive, scale = push.scale, o = std::move(o)]() mutable {
            if (alive.expired() || !*alive.lock()) return;
            o.until = env_.clock->steady_now() + env_.config->cameras.anpr.offer_for;
            spdlog::info("ANPR camera {} read plate {}: offered for the next weighing{}", o.camera,
                         o.plate, scale.empty() ? "" : " on " + scale);
            last_plate_[o.camera] = o.plate + " at " + o.received_at;
            offers_[scale] = std::move(o);
          });
        });
    auto bound = anpr_->start();
    anpr_since_ = to_ms(env_.clock->now());
    if (bound) {
      anpr_address_ = *bound;
      spdlog::info("ANPR intake listening on {}", anpr_address_);
    } else {
      anpr_error_ = bound.error().message;
      spdlog::error("ANPR intake: {}; plates are not taken until the agent restarts", anpr_error_);
    }
  }

  void latest_plate(const HttpRequest& request, const std::string& correlation_id,
                    const Respond& respond) {
    if (request.method != "GET") {
      return respond(error_response(405, "method_not_allowed",
                                    request.method + " is not allowed on /v1/anpr/latest; use GET",
                                    correlation_id));
    }
    std::string scale;
    if (auto url = boost::urls::parse_origin_form(request.target)) {
      for (const auto& p : url->params()) {
        if (p.key == "scale") scale = p.value;
      }
    }
    const auto now = env_.clock->steady_now();
    const PlateOffer* best = nullptr;
    std::string best_scale;
    for (const auto& [s, o] : offers_) {
      if (o.until <= now || (!scale.empty() && !s.empty() && s != scale)) continue;
      if (!best || o.received_at > best->received_at) best = &o, best_scale = s;
    }
    if (!best) {
      return respond(error_response(
          404, "no_plate",
          "no plate is offered" + (scale.empty() ? std::string() : " for scale " + scale) +
              " (none pushed by an ANPR camera since the last weighing, or older than "
              "anpr.offer_for_s)",
          correlation_id));
    }
    respond(api::json_response(200, offer_json(best_scale, *best)));
  }

  // Records leave the archive only when it is trimmed: a sweep is due when its trim point moved.
  void check_retention() {
    const auto trimmed = env_.outbox->stats().archive_trimmed_through_seq;
    if (trimmed != trimmed_seen_) {
      trimmed_seen_ = trimmed;
      sweeper_->request();
    }
    std::weak_ptr<bool> alive = alive_;
    env_.schedule(kRetentionCheck, [this, alive] {
      if (alive.expired() || !*alive.lock()) return;
      check_retention();
    });
  }

  static bool watches(const CameraConfig& c, const std::string& scale) {
    return c.scales.empty() || std::find(c.scales.begin(), c.scales.end(), scale) != c.scales.end();
  }

  // Asks the cameras of `scale` for stills recorded under `key`; false when none takes them.
  bool shoot(const std::string& scale, CaptureImages record, std::string key, bool axle) {
    std::vector<CameraWorker*> chosen;
    for (const auto& w : workers_) {
      if (watches(w->config(), scale) && (!axle || w->config().on_axles)) chosen.push_back(w.get());
    }
    if (chosen.empty()) return false;
    auto p = std::make_shared<Pending>();
    p->record = std::move(record);
    p->record.station_id = station_id_;
    p->record.scale = scale;
    p->key = std::move(key);
    p->left = chosen.size();
    std::chrono::milliseconds longest{0};
    for (std::size_t i = 0; i < chosen.size(); ++i) {
      auto* w = chosen[i];
      p->record.images.push_back(ImageEntry{w->config().id, false, {}, 0, {}, "deadline"});
      longest = std::max(longest, w->config().deadline);
      // The worker's own clock: the deadline bounds real network time.
      const auto deadline = std::chrono::steady_clock::now() + w->config().deadline;
      std::weak_ptr<bool> alive = alive_;
      w->submit(deadline, [this, alive, p, i, camera = w->config().id, blobs = env_.blobs,
                           post = env_.post](Shot shot) {
        ImageEntry entry{camera, false, {}, 0, {}, shot.reason};
        if (shot.ok()) {
          // The file is written (and fsynced) here, off the io thread.
          if (auto sha = blobs->put(shot.jpeg)) {
            entry.ok = true;
            entry.sha256 = *sha;
            entry.bytes = shot.jpeg.size();
            // The wall clock of this thread (the injected clock is the io thread's).
            entry.taken_at = base::format_utc_timestamp_ms(std::chrono::system_clock::now());
            entry.reason.clear();
            // The same bytes as an older file keep that file: it is young again for retention.
            std::error_code ec;
            std::filesystem::last_write_time(blobs->path(*sha),
                                             std::filesystem::file_time_type::clock::now(), ec);
          } else {
            entry.reason = "storage";
            shot.detail = sha.error().message;
          }
        }
        post([this, alive, p, i, entry = std::move(entry), detail = std::move(shot.detail)] {
          if (alive.expired() || !*alive.lock()) return;
          fill(*p, i, entry, detail);
        });
      });
    }
    std::weak_ptr<bool> alive = alive_;
    env_.schedule(longest + kGrace, [this, alive, p] {
      if (alive.expired() || !*alive.lock()) return;
      finish(p);  // what has not come back by now is recorded as missing (deadline)
    });
    return true;
  }

  void fill(Pending& p, std::size_t i, const ImageEntry& entry, const std::string& detail) {
    auto& s = states_[entry.camera];
    ++s.shots[entry.ok ? "ok" : entry.reason];
    const std::string state = entry.ok ? "ok"
                              : entry.reason == "deadline" ||
                                      entry.reason == "connection refused" ||
                                      entry.reason == "offline"
                                  ? "offline"
                                  : "error";
    const std::string new_detail =
        entry.ok ? "last still " + entry.taken_at : entry.reason + ": " + detail;
    if (state != s.state) {
      s.since_ms = to_ms(env_.clock->now());
      if (entry.ok) {
        spdlog::info("camera {}: answering again", entry.camera);
      } else {
        spdlog::warn("camera {}: no image ({}): {}", entry.camera, entry.reason, detail);
      }
    }
    s.state = state;
    s.detail = new_detail;
    if (entry.ok) {
      s.last_sha = entry.sha256;
      s.last_at = entry.taken_at;
    }
    if (p.finished) return;  // given up on at the deadline: the record is written already
    p.record.images[i] = entry;
    if (--p.left == 0) finish_now(p);
  }

  void finish(const std::shared_ptr<Pending>& p) {
    if (!p->finished) finish_now(*p);
  }

  void finish_now(Pending& p) {
    p.finished = true;
    const auto payload = capture_images_payload(p.record);
    sync::NewMutation m;
    m.idempotency_key = p.key;
    m.kind = std::string(kCaptureImagesKind);
    m.payload_json = record::serialize_exact(payload);
    m.request_hash = base::sha256_hex(m.payload_json);
    m.created_at_ms = to_ms(env_.clock->now());
    std::weak_ptr<bool> alive = alive_;
    env_.outbox->enqueue(std::move(m),
                         [this, alive, key = p.key, post = env_.post](sync::EnqueueResult result) {
                           post([this, alive, key, result = std::move(result)] {
                             if (alive.expired() || !*alive.lock()) return;
                             if (result.status == sync::EnqueueStatus::accepted ||
                                 result.status == sync::EnqueueStatus::replayed) {
                               ++records_;
                               spdlog::info("images of {} recorded as seq {}", key, result.row.seq);
                             } else {
                               ++record_failures_;
                               spdlog::error("images of {} not recorded: {}", key, result.message);
                             }
                           });
                         });
  }

  DeviceEnv env_;
  std::string station_id_;
  std::vector<std::unique_ptr<CameraWorker>> workers_;
  std::map<std::string, CameraState> states_;  // io thread
  std::uint64_t records_ = 0;
  std::uint64_t record_failures_ = 0;
  std::uint64_t trimmed_seen_ = 0;
  std::shared_ptr<std::atomic<std::uint64_t>> removed_ =
      std::make_shared<std::atomic<std::uint64_t>>(0);
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::unique_ptr<AnprListener> anpr_;
  std::string anpr_address_, anpr_error_;
  std::int64_t anpr_since_ = 0;
  std::map<std::string, PlateOffer> offers_;  // by scale ("" every scale); io thread
  // Per scale, the axle stills (axle number, images key) since its last weighing; io thread.
  std::map<std::string, std::vector<std::pair<int, std::string>>> axle_images_;
  std::map<std::string, std::string> last_plate_;  // by ANPR camera
  std::unique_ptr<Sweeper> sweeper_;               // last: stopped first
};

}  // namespace

void add_cameras(DeviceHub& hub, CaptureContext& /*captures*/) {
  const auto& env = hub.env();
  if (env.config->cameras.cameras.empty() && env.config->cameras.anpr.listen.empty()) return;
  hub.add(std::make_unique<Cameras>(env));
}

}  // namespace weighlink::agent::camera
