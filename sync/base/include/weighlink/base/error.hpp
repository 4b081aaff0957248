#pragma once
// The error a fallible base function returns: a code a caller can branch on and the message a
// user reads (what was wrong, with which input), travelling together. Expected<T> is
// boost::system::result<T, Error>: a T, or the Error (C++20 has no std::expected).
//
// Threading: plain values.

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>
#include <cerrno>
#include <string>
#include <system_error>
#include <utility>

namespace weighlink::base {

struct Error {
  std::error_code code;
  std::string message;
};

template <class T>
using Expected = boost::system::result<T, Error>;

// An Error with std::errc::invalid_argument: bad input (text, a flag, a configuration value).
[[nodiscard]] inline Error invalid_argument(std::string message) {
  return Error{std::make_error_code(std::errc::invalid_argument), std::move(message)};
}

// An Error with the code of a failed system call (an `errno` value; EIO when it is 0) and
// `message` as it is.
[[nodiscard]] inline Error errno_error(int code, std::string message) {
  return Error{std::error_code(code != 0 ? code : EIO, std::generic_category()),
               std::move(message)};
}

// What .value() throws on an Error (found by boost::system::result through ADL).
[[noreturn]] void throw_exception_from_error(const Error& error, const boost::source_location& at);

}  // namespace weighlink::base
