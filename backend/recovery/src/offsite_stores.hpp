#pragma once
// The two Store implementations behind open_store (private to weighlink::recovery).

#include <memory>

#include "weighlink/recovery/offsite.hpp"

namespace weighlink::recovery {

// std::filesystem: writes go to a temporary name, are fsynced, then renamed (offsite_local.cpp).
[[nodiscard]] std::unique_ptr<Store> make_local_store(const Location& location);
// rclone as a child process (offsite_rclone.cpp).
[[nodiscard]] std::unique_ptr<Store> make_rclone_store(const Location& location,
                                                       const RcloneOptions& options);

}  // namespace weighlink::recovery
