// ModbusModule (modbus_module.hpp) over libmodbus.
#include "devices/io/modbus_module.hpp"

#include <modbus/modbus.h>

#include <algorithm>
#include <cerrno>
#include <memory>

namespace weighlink::agent::io {
namespace {

struct Closer {
  void operator()(modbus_t* ctx) const {
    modbus_close(ctx);
    modbus_free(ctx);
  }
};
using Context = std::unique_ptr<modbus_t, Closer>;

std::string last_error() { return modbus_strerror(errno); }

}  // namespace

ModbusModule::ModbusModule(IoModuleConfig config, std::vector<int> inputs, Report report)
    : config_(std::move(config)), inputs_(std::move(inputs)), report_(std::move(report)) {
  std::sort(inputs_.begin(), inputs_.end());
}

ModbusModule::~ModbusModule() { stop(); }

void ModbusModule::start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stop_ = false;
  }
  thread_ = std::thread([this] { run(); });
}

void ModbusModule::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ModbusModule::set_coils(const std::map<int, bool>& coils) {
  {
    std::lock_guard lock(mutex_);
    for (const auto& [n, v] : coils) coils_[n] = v;
    dirty_ = true;
  }
  wake_.notify_all();
}

bool ModbusModule::wait(std::chrono::milliseconds d, bool on_coils) {
  std::unique_lock lock(mutex_);
  wake_.wait_for(lock, d, [this, on_coils] { return stop_ || (on_coils && dirty_); });
  return !stop_;
}

void ModbusModule::run() {
  using clock = std::chrono::steady_clock;
  Context ctx;
  ModuleSnapshot last;
  last.detail = "not connected yet";
  bool reported = false;
  auto backoff = std::chrono::milliseconds(100);
  std::map<int, bool> written;
  auto next_reassert = clock::now();
  const auto address = config_.host + ":" + std::to_string(config_.port);
  auto report = [&](ModuleSnapshot now) {
    if (reported && now.online == last.online && now.detail == last.detail &&
        now.inputs == last.inputs) {
      return;
    }
    reported = true;
    last = now;
    report_(std::move(now));
  };
  auto offline = [&](const std::string& what) {
    ctx.reset();
    written.clear();
    report({false, what, {}});
  };
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stop_) return;
    }
    if (!ctx) {
      const auto port = std::to_string(config_.port);
      ctx.reset(modbus_new_tcp_pi(config_.host.c_str(), port.c_str()));
      if (!ctx) {
        offline("cannot use address " + address + ": " + last_error());
      } else {
        const auto t = config_.timeout.count();
        modbus_set_response_timeout(ctx.get(), static_cast<std::uint32_t>(t / 1000),
                                    static_cast<std::uint32_t>((t % 1000) * 1000));
        modbus_set_slave(ctx.get(), config_.unit_id);
        if (modbus_connect(ctx.get()) == -1) {
          offline("cannot connect to " + address + ": " + last_error());
        } else {
          backoff = std::chrono::milliseconds(100);
        }
      }
      if (!ctx) {
        if (!wait(backoff, false)) return;
        backoff = std::min(backoff * 2, config_.reconnect_max);
        continue;
      }
    }
    std::map<int, bool> want;
    {
      std::lock_guard lock(mutex_);
      want = coils_;
      dirty_ = false;
    }
    const bool reassert = clock::now() >= next_reassert;
    if (reassert) next_reassert = clock::now() + config_.reassert;
    bool failed = false;
    for (const auto& [n, v] : want) {
      const auto it = written.find(n);
      if (!reassert && it != written.end() && it->second == v) continue;
      if (modbus_write_bit(ctx.get(), n, v ? 1 : 0) == -1) {
        offline("writing coil " + std::to_string(n) + " of " + address + ": " + last_error());
        failed = true;
        break;
      }
      written[n] = v;
    }
    if (failed) continue;
    ModuleSnapshot now{true, {}, {}};
    if (!inputs_.empty()) {
      const int first = inputs_.front();
      const int count = inputs_.back() - first + 1;
      std::vector<std::uint8_t> bits(static_cast<std::size_t>(count));
      if (modbus_read_input_bits(ctx.get(), first, count, bits.data()) == -1) {
        offline("reading inputs of " + address + ": " + last_error());
        continue;
      }
      for (int n : inputs_) now.inputs[n] = bits[static_cast<std::size_t>(n - first)] != 0;
    }
    report(std::move(now));
    if (!wait(config_.poll, true)) return;
  }
}

}  // namespace weighlink::agent::io
