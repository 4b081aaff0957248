#pragma once
// Which station a token may write (SPEC §5): only its own.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/pg/error.hpp"
#include "weighlink/service/types.hpp"

namespace weighlink::service {

// The station a token hash belongs to.
struct StationAuth {
  std::string station_id;
  bool disabled = false;
};

// unauthenticated when the token matches no enabled station; permission_denied when the request
// or any of its mutations names another station.
[[nodiscard]] pg::Result<void> check_access(const std::optional<StationAuth>& token_station,
                                            std::string_view request_station_id,
                                            const std::vector<Mutation>& mutations);

}  // namespace weighlink::service
