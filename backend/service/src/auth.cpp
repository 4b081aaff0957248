#include "weighlink/service/auth.hpp"

namespace weighlink::service {

pg::Result<void> check_access(const std::optional<StationAuth>& token_station,
                              std::string_view request_station_id,
                              const std::vector<Mutation>& mutations) {
  // A disabled station's token is as good as no token: the caller learns nothing more.
  if (!token_station || token_station->disabled) return pg::Errc::unauthenticated;
  if (token_station->station_id != request_station_id) return pg::Errc::permission_denied;
  for (const auto& mutation : mutations) {
    if (mutation.station_id != token_station->station_id) return pg::Errc::permission_denied;
  }
  return {};
}

}  // namespace weighlink::service
