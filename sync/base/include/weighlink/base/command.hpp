#pragma once
// What every command of the weighlink binaries shares: its exit codes.

namespace weighlink::base {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // an operational failure
inline constexpr int kExitUsage = 2;    // bad usage or configuration

}  // namespace weighlink::base
