# Dependency lookups that work on Debian 12 (see docs/architecture.md, "Dependencies").
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
if(WIN32)
  find_package(Boost 1.81 REQUIRED COMPONENTS system json url)  # vcpkg's Boost may be newer
else()
  find_package(Boost 1.81 EXACT REQUIRED COMPONENTS system json url)
endif()
find_package(SQLite3 REQUIRED)
if(WEIGHLINK_BUILD_BACKEND)
  find_package(PostgreSQL REQUIRED)
endif()
find_package(OpenSSL REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(ZLIB REQUIRED)

# weighlink::grpc: gRPC (with reflection), protobuf and Abseil. Linked statically by default:
# the shared gRPC stack is about 7.7 MB of library pages mapped and relocated in every process at
# start, even an agent with no backend (docs/performance.md, "Live socket latency"). Debian
# ships the static archives; without them, or with -DWEIGHLINK_STATIC_GRPC=OFF, the shared
# libraries are used.
# (Debian's archives; on Windows vcpkg's targets decide, so OFF there.)
if(WIN32)
  option(WEIGHLINK_STATIC_GRPC "link gRPC, protobuf and Abseil statically" OFF)
else()
  option(WEIGHLINK_STATIC_GRPC "link gRPC, protobuf and Abseil statically" ON)
endif()
add_library(weighlink_grpc INTERFACE)
add_library(weighlink::grpc ALIAS weighlink_grpc)
if(WEIGHLINK_STATIC_GRPC)
  set(_grpc_static "")
  foreach(_name grpc++_reflection grpc++ grpc gpr upb address_sorting protobuf re2 cares)
    find_library(WEIGHLINK_STATIC_${_name} NAMES lib${_name}.a)
    if(NOT WEIGHLINK_STATIC_${_name})
      message(STATUS "weighlink: no lib${_name}.a, linking gRPC as shared libraries")
      set(WEIGHLINK_STATIC_GRPC OFF)
      break()
    endif()
    list(APPEND _grpc_static "${WEIGHLINK_STATIC_${_name}}")
  endforeach()
  get_filename_component(_libdir "${WEIGHLINK_STATIC_grpc}" DIRECTORY)
  file(GLOB _absl_static "${_libdir}/libabsl_*.a")
endif()
if(WEIGHLINK_STATIC_GRPC)
  target_link_libraries(weighlink_grpc INTERFACE
    "-Wl,--start-group" ${_grpc_static} ${_absl_static} "-Wl,--end-group"
    ZLIB::ZLIB OpenSSL::SSL OpenSSL::Crypto Threads::Threads ${CMAKE_DL_LIBS})
  get_target_property(_grpc_includes gRPC::grpc++ INTERFACE_INCLUDE_DIRECTORIES)
  if(_grpc_includes)
    target_include_directories(weighlink_grpc SYSTEM INTERFACE ${_grpc_includes})
  endif()
else()
  target_link_libraries(weighlink_grpc INTERFACE protobuf::libprotobuf gRPC::grpc++
                                                 gRPC::grpc++_reflection)
endif()
# Relative relocations packed (DT_RELR; binutils >= 2.38 and glibc >= 2.36, as in Debian 12): the
# table the loader reads at every start shrinks from 540 KB to 4 KB in the agent, where static gRPC
# brings tens of thousands of pointers to relocate (docs/performance.md, "Issue 21: agent
# memory").
if(NOT WIN32)
  include(CheckLinkerFlag)
  check_linker_flag(CXX "LINKER:-z,pack-relative-relocs" WEIGHLINK_LINKER_PACKS_RELOCS)
  if(WEIGHLINK_LINKER_PACKS_RELOCS)
    target_link_options(weighlink_options INTERFACE "LINKER:-z,pack-relative-relocs")
  endif()
endif()
find_package(spdlog CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(yaml-cpp CONFIG REQUIRED)
pkg_check_modules(SERIALPORT REQUIRED IMPORTED_TARGET libserialport)
# RTSP camera stills (agent/src/devices/camera/rtsp_grab.cpp).
pkg_check_modules(FFMPEG REQUIRED IMPORTED_TARGET libavformat libavcodec libswscale libavutil)
if(WEIGHLINK_BUILD_TESTS)
  find_package(doctest CONFIG REQUIRED)
endif()
