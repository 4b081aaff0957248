#pragma once
// One Modbus TCP relay/IO module (libmodbus, which blocks): coils written when they change and
// again every `reassert` interval (a module that restarted, or a relay switched by hand, gets
// the intended state back), discrete inputs polled every `poll`. Offline it reconnects with a
// capped backoff and reports why.
// Threading: its own thread; set_coils() from any thread; `report` runs on that thread (the
// component posts it to the io thread).

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "weighlink/agent/io_config.hpp"

namespace weighlink::agent::io {

struct ModuleSnapshot {
  bool online = false;
  std::string detail;          // offline: why ("connection refused", "timed out")
  std::map<int, bool> inputs;  // discrete input -> level read (before active_low)
};

class ModbusModule {
 public:
  using Report = std::function<void(ModuleSnapshot)>;
  // `inputs`: the discrete inputs to read (may be empty). `report` is called on each change of
  // state or inputs.
  ModbusModule(IoModuleConfig config, std::vector<int> inputs, Report report);
  ~ModbusModule();
  ModbusModule(const ModbusModule&) = delete;
  ModbusModule& operator=(const ModbusModule&) = delete;

  void start();
  void stop();
  // The intended state of coils (merged into what is held); written at once.
  void set_coils(const std::map<int, bool>& coils);

 private:
  void run();
  // Waits up to `d`, or until stopped or (`on_coils`) a coil changes; false when stopped.
  bool wait(std::chrono::milliseconds d, bool on_coils);

  IoModuleConfig config_;
  std::vector<int> inputs_;
  Report report_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool dirty_ = false;
  std::map<int, bool> coils_;  // under mutex_
  std::thread thread_;
};

}  // namespace weighlink::agent::io
