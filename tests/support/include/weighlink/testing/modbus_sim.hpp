#pragma once
// A Modbus TCP relay/IO module on loopback (libmodbus's server side): coils the agent writes,
// discrete inputs the test flips. stop() is the module unplugged (its connections and listening
// socket closed), start() plugs it back on the same port with every coil off (a module that lost
// power).
// Threading: its own server thread; every member is thread-safe.

#include <cstdint>
#include <memory>
#include <string>

namespace weighlink::testing {

class ModbusSim {
 public:
  // Listens on 127.0.0.1:`port` (0: a free port, kept across stop()/start()).
  explicit ModbusSim(std::uint16_t port = 0);
  ~ModbusSim();
  ModbusSim(const ModbusSim&) = delete;
  ModbusSim& operator=(const ModbusSim&) = delete;

  [[nodiscard]] std::string address() const;  // "127.0.0.1:PORT"
  [[nodiscard]] std::uint16_t port() const;
  void set_input(int number, bool level);
  [[nodiscard]] bool coil(int number) const;
  // Requests answered since start (writes and reads).
  [[nodiscard]] std::uint64_t requests() const;
  void stop();
  void start();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace weighlink::testing
