#pragma once
// One camera's worker: a thread of its own that takes stills one after another, each bounded by
// its deadline, so a slow or absent camera never holds the io thread or another camera.
// Threading: submit() from any thread; `done` runs on the worker thread. The destructor stops
// and joins (stills still queued are answered "offline": the agent is stopping).

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "weighlink/agent/camera/camera_shot.hpp"
#include "weighlink/agent/camera_config.hpp"

namespace weighlink::agent::camera {

class CameraWorker {
 public:
  CameraWorker(CameraConfig config, std::string password);
  ~CameraWorker();
  CameraWorker(const CameraWorker&) = delete;
  CameraWorker& operator=(const CameraWorker&) = delete;

  [[nodiscard]] const CameraConfig& config() const { return config_; }
  // Takes a still, given up at `deadline` (one still already late when its turn comes is
  // answered "deadline" without asking the camera).
  void submit(std::chrono::steady_clock::time_point deadline, std::function<void(Shot)> done);

 private:
  struct Job {
    std::chrono::steady_clock::time_point deadline;
    std::function<void(Shot)> done;
  };
  void loop();
  [[nodiscard]] Shot take(std::chrono::steady_clock::time_point deadline) const;

  CameraConfig config_;
  std::string password_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool stop_ = false;
  std::thread thread_;  // last: started once the rest is built
};

}  // namespace weighlink::agent::camera
