// ModbusSim (modbus_sim.hpp) over libmodbus's server API: modbus_tcp_listen, then
// modbus_receive / modbus_reply on a modbus_mapping_t for each client, multiplexed with poll().
#include "weighlink/testing/modbus_sim.hpp"

#include <arpa/inet.h>
#include <modbus/modbus.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace weighlink::testing {

struct ModbusSim::Impl {
  std::uint16_t port = 0;
  mutable std::mutex mutex;
  modbus_mapping_t* mapping = nullptr;  // under mutex
  std::atomic<std::uint64_t> requests{0};
  modbus_t* ctx = nullptr;
  int listener = -1;
  int wake[2] = {-1, -1};
  std::thread thread;

  void serve() {
    std::vector<int> clients;
    std::vector<std::uint8_t> query(MODBUS_TCP_MAX_ADU_LENGTH);
    while (true) {
      std::vector<pollfd> fds{{wake[0], POLLIN, 0}, {listener, POLLIN, 0}};
      for (int c : clients) fds.push_back({c, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), -1) < 0) continue;
      if (fds[0].revents) break;
      if (fds[1].revents & POLLIN) {
        const int c = ::accept(listener, nullptr, nullptr);
        if (c >= 0) clients.push_back(c);
      }
      for (std::size_t i = 2; i < fds.size(); ++i) {
        if (!fds[i].revents) continue;
        modbus_set_socket(ctx, fds[i].fd);
        const int rc = modbus_receive(ctx, query.data());
        if (rc > 0) {
          std::lock_guard lock(mutex);
          modbus_reply(ctx, query.data(), rc, mapping);
          ++requests;
        } else if (rc == -1) {
          ::close(fds[i].fd);
          std::erase(clients, fds[i].fd);
        }
      }
    }
    for (int c : clients) ::close(c);
  }

  void start() {
    ctx = modbus_new_tcp("127.0.0.1", port);
    if (!ctx) throw std::runtime_error("modbus_new_tcp failed");
    listener = modbus_tcp_listen(ctx, 4);
    if (listener < 0) {
      modbus_free(ctx);
      throw std::runtime_error(std::string("modbus_tcp_listen: ") + modbus_strerror(errno));
    }
    sockaddr_in bound{};
    socklen_t len = sizeof(bound);
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&bound), &len);
    port = ntohs(bound.sin_port);
    if (::pipe(wake) != 0) throw std::runtime_error("pipe failed");
    {
      std::lock_guard lock(mutex);
      // Powered up again: every relay off.
      for (int i = 0; i < mapping->nb_bits; ++i) mapping->tab_bits[i] = 0;
    }
    thread = std::thread([this] { serve(); });
  }

  void stop() {
    if (!thread.joinable()) return;
    const char c = 'x';
    (void)!::write(wake[1], &c, 1);
    thread.join();
    ::close(listener);
    ::close(wake[0]);
    ::close(wake[1]);
    modbus_free(ctx);
    ctx = nullptr;
  }
};

ModbusSim::ModbusSim(std::uint16_t port) : impl_(std::make_unique<Impl>()) {
  impl_->port = port;
  impl_->mapping = modbus_mapping_new(64, 64, 0, 0);
  impl_->start();
}

ModbusSim::~ModbusSim() {
  impl_->stop();
  modbus_mapping_free(impl_->mapping);
}

std::string ModbusSim::address() const { return "127.0.0.1:" + std::to_string(impl_->port); }
std::uint16_t ModbusSim::port() const { return impl_->port; }

void ModbusSim::set_input(int number, bool level) {
  std::lock_guard lock(impl_->mutex);
  impl_->mapping->tab_input_bits[number] = level ? 1 : 0;
}

bool ModbusSim::coil(int number) const {
  std::lock_guard lock(impl_->mutex);
  return impl_->mapping->tab_bits[number] != 0;
}

std::uint64_t ModbusSim::requests() const { return impl_->requests; }

void ModbusSim::stop() { impl_->stop(); }
void ModbusSim::start() {
  if (!impl_->thread.joinable()) impl_->start();
}

}  // namespace weighlink::testing
