// A camera's worker thread (camera_worker.hpp).
#include "devices/camera/camera_worker.hpp"

#include "devices/camera/rtsp_grab.hpp"
#include "devices/camera/snapshot_http.hpp"

namespace weighlink::agent::camera {

CameraWorker::CameraWorker(CameraConfig config, std::string password)
    : config_(std::move(config)), password_(std::move(password)), thread_([this] { loop(); }) {}

CameraWorker::~CameraWorker() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void CameraWorker::submit(std::chrono::steady_clock::time_point deadline,
                          std::function<void(Shot)> done) {
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(Job{deadline, std::move(done)});
  }
  cv_.notify_one();
}

void CameraWorker::loop() {
  while (true) {
    Job job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
      if (stop_) break;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job.done(take(job.deadline));
  }
  std::deque<Job> left;
  {
    std::lock_guard lock(mu_);
    left.swap(jobs_);
  }
  for (auto& job : left) job.done(missing_shot("offline", "the agent is stopping"));
}

Shot CameraWorker::take(std::chrono::steady_clock::time_point deadline) const {
  const auto now = std::chrono::steady_clock::now();
  if (now >= deadline) {
    return missing_shot("deadline",
                        "camera " + config_.id + " was still busy with the still before");
  }
  if (config_.type == "http") return http_snapshot(config_, password_, deadline);
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
  auto jpeg = grab_rtsp_jpeg(config_.url, left);
  if (!jpeg) {
    const auto& e = jpeg.error();
    const bool late =
        e.code == std::errc::timed_out || std::chrono::steady_clock::now() >= deadline;
    const bool unsupported = e.code == std::errc::function_not_supported;
    return missing_shot(late ? "deadline" : unsupported ? "not supported" : "offline", e.message);
  }
  return checked_jpeg(std::move(*jpeg), config_.max_bytes);
}

}  // namespace weighlink::agent::camera
