#include "weighlink/pg/error.hpp"

#include <string>

namespace weighlink::pg {
namespace {

// One static instance, never deleted through the base (boost's error_category has a protected
// non-virtual destructor by design).
// NOLINTNEXTLINE(cppcoreguidelines-virtual-class-destructor)
class BackendCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "weighlink.backend"; }
  std::string message(int value) const override {
    switch (static_cast<Errc>(value)) {
      case Errc::ok:
        return "ok";
      case Errc::connection_lost:
        return "database connection lost";
      case Errc::unique_violation:
        return "unique violation (a concurrent writer won)";
      case Errc::serialization_failure:
        return "serialization failure or deadlock";
      case Errc::timed_out:
        return "database statement or lock wait timed out";
      case Errc::database_error:
        return "database error";
      case Errc::data_refused:
        return "the database refused a value or row (data exception or constraint)";
      case Errc::not_migrated:
        return "database schema not migrated";
      case Errc::station_not_found:
        return "station not found";
      case Errc::station_exists:
        return "station already exists";
      case Errc::unauthenticated:
        return "unauthenticated";
      case Errc::permission_denied:
        return "permission denied";
      case Errc::invalid_argument:
        return "invalid argument";
    }
    return "unknown weighlink.backend error";
  }
};

}  // namespace

const boost::system::error_category& backend_category() noexcept {
  static const BackendCategory category;
  return category;
}

}  // namespace weighlink::pg
