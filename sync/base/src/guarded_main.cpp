#include "weighlink/base/guarded_main.hpp"

#include <cstdio>
#include <exception>
#include <string>

#include "weighlink/base/command.hpp"

namespace weighlink::base {

int guarded_main(std::string_view program, const std::function<int()>& command) noexcept {
  const std::string name(program);
  try {
    return command();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: unexpected error: %s\n", name.c_str(), e.what());
  } catch (...) {
    std::fprintf(stderr, "%s: unexpected error\n", name.c_str());
  }
  return kExitFailure;
}

}  // namespace weighlink::base
