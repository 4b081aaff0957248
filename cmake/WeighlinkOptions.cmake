# ccache when installed (WEIGHLINK_CCACHE, on in the presets): every compile goes through it,
# whoever configures (make, an IDE, cmake --preset). A launcher given on the command line wins.
# Not with MSVC: its default debug format (/Zi) cannot be cached.
option(WEIGHLINK_CCACHE "Compile through ccache when it is installed" ON)
if(WEIGHLINK_CCACHE AND NOT MSVC AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  find_program(WEIGHLINK_CCACHE_PROGRAM ccache)
  if(WEIGHLINK_CCACHE_PROGRAM)
    set(CMAKE_C_COMPILER_LAUNCHER "${WEIGHLINK_CCACHE_PROGRAM}")
    set(CMAKE_CXX_COMPILER_LAUNCHER "${WEIGHLINK_CCACHE_PROGRAM}")
  endif()
endif()

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
