#include "weighlink/agent/service_host.hpp"

#include "weighlink/base/service_notify.hpp"

namespace weighlink::agent {
namespace {

class NotifyHost final : public ServiceHost {
 public:
  void ready(const std::string& status) override { notifier_.ready(status); }
  void stopping() override { notifier_.stopping(); }
  [[nodiscard]] std::optional<std::chrono::milliseconds> watchdog_period() const override {
    return notifier_.watchdog_period();
  }
  void watchdog() override { notifier_.watchdog(); }
  void set_stop(std::function<void()>) override {}  // SIGTERM, handled by the agent

 private:
  base::ServiceNotifier notifier_;
};

}  // namespace

std::unique_ptr<ServiceHost> make_notify_host() { return std::make_unique<NotifyHost>(); }

}  // namespace weighlink::agent
