#pragma once
// What the three binaries' main() share.

#include <functional>
#include <string_view>

namespace weighlink::base {

// Runs `command` and returns its exit code. Whatever escapes it (out of memory, a bug) is said on
// stderr as "PROGRAM: unexpected error: WHAT" with exit 1 (kExitFailure in command.hpp, an
// operational failure) instead of std::terminate's abort.
[[nodiscard]] int guarded_main(std::string_view program,
                               const std::function<int()>& command) noexcept;

}  // namespace weighlink::base
