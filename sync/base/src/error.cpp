#include "weighlink/base/error.hpp"

#include <boost/throw_exception.hpp>
#include <system_error>

namespace weighlink::base {

void throw_exception_from_error(const Error& error, const boost::source_location& at) {
  boost::throw_exception(std::system_error(error.code, error.message), at);
}

}  // namespace weighlink::base
