# weighlink_options: the INTERFACE target every weighlink target links for language level and
# warnings. Flags that vary by build (sanitizers, coverage) live in CMakePresets.json.
add_library(weighlink_options INTERFACE)
add_library(weighlink::options ALIAS weighlink_options)
target_compile_features(weighlink_options INTERFACE cxx_std_20)
if(MSVC)
  # /bigobj: the Beast server's object has more sections than COFF's default allows.
  target_compile_options(weighlink_options INTERFACE /W4 /bigobj /utf-8 /permissive- /Zc:__cplusplus)
  target_compile_definitions(weighlink_options INTERFACE _WIN32_WINNT=0x0A00 NOMINMAX
                                                         WIN32_LEAN_AND_MEAN)
  if(WEIGHLINK_WERROR)
    target_compile_options(weighlink_options INTERFACE /WX)
  endif()
else()
  target_compile_options(weighlink_options INTERFACE -Wall -Wextra -Wno-unused-parameter)
  if(WEIGHLINK_WERROR)
    target_compile_options(weighlink_options INTERFACE -Werror)
  endif()
endif()
target_compile_definitions(weighlink_options INTERFACE
  WEIGHLINK_VERSION="${PROJECT_VERSION}"
  BOOST_ASIO_NO_DEPRECATED
  BOOST_BEAST_USE_STD_STRING_VIEW)
