#pragma once
// What every command of the weighlink binaries shares: its exit codes and where it writes.

#include <iosfwd>

namespace weighlink::base {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // an operational failure
inline constexpr int kExitUsage = 2;    // bad usage or configuration

// Where a command writes for whoever ran it: `out` its results (scripts read its last line),
// `err` what went wrong and what to do, a line each. The command line (main.cpp) passes
// std::cout and std::cerr; a test passes string streams. The libraries never name std::cout or
// std::cerr: a command returns its exit code and writes only here.
//
// Threading: the streams are used by the command's thread (and a progress thread it joins).
struct Console {
  std::ostream& out;
  std::ostream& err;
  // err is a terminal: a long step may show its progress on it in place.
  bool err_is_terminal = false;
};

}  // namespace weighlink::base
