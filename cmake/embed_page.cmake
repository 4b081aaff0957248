# Turns the operator page (agent/page/) into a C++ source at build time:
#   cmake -DPAGE=<index.html> -DHTML_OUT=<page.html> -DCPP_OUT=<page.cpp> -P embed_page.cmake
# Every <link rel="stylesheet" href="F" /> becomes <style> with F inside it and every
# <script src="F"></script> a <script> with F inside it, F read from beside the document: the
# page's Content-Security-Policy allows inline style and script and nothing else, and the agent
# must serve it with no internet and no other request. The document is written to HTML_OUT (what
# the agent serves, for reading) and as a byte array to CPP_OUT, defining
# weighlink::agent::operator_page_html(). A byte array, not a string literal: MSVC refuses
# string literals over 16 KB (C2026).
cmake_minimum_required(VERSION 3.25)
foreach(_var PAGE HTML_OUT CPP_OUT)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "embed_page.cmake: -D${_var}=... is missing")
  endif()
endforeach()

get_filename_component(_dir "${PAGE}" DIRECTORY)
file(READ "${PAGE}" _html)

# Reads an asset the document names; refuses what would end its element early or leave the agent.
function(_page_asset name out_var)
  if(name MATCHES "^[a-z][a-z0-9_-]*\\.(css|js)$")
    set(_file "${_dir}/${name}")
  else()
    message(FATAL_ERROR "${PAGE}: '${name}' is not a file beside the page (only local .css and "
                        ".js files can be inlined: the page may load nothing from elsewhere)")
  endif()
  if(NOT EXISTS "${_file}")
    message(FATAL_ERROR "${PAGE}: '${name}' does not exist in ${_dir}")
  endif()
  file(READ "${_file}" _text)
  string(TOLOWER "${_text}" _lower)
  if(_lower MATCHES "</(script|style)")
    message(FATAL_ERROR "${_file}: contains '</${CMAKE_MATCH_1}', which would end the inline "
                        "element early; split the string (\"<\" + \"/${CMAKE_MATCH_1}\")")
  endif()
  set(${out_var} "${_text}" PARENT_SCOPE)
endfunction()

# Replaces each tag matching `pattern` (the file named in its `attribute`) by <element>, the
# file, </element>.
macro(_page_inline pattern attribute element)
  string(REGEX MATCHALL "${pattern}" _tags "${_html}")
  foreach(_tag IN LISTS _tags)
    string(REGEX REPLACE ".*${attribute}=\"([^\"]*)\".*" "\\1" _name "${_tag}")
    _page_asset("${_name}" _text)
    string(REPLACE "${_tag}" "<${element}>\n${_text}</${element}>" _html "${_html}")
  endforeach()
endmacro()
_page_inline("<link rel=\"stylesheet\" href=\"[^\"]*\" ?/?>" href style)
_page_inline("<script src=\"[^\"]*\"></script>" src script)
if(_html MATCHES "<(link|script)[^>]*(href|src)=")
  message(FATAL_ERROR "${PAGE}: a <link> or <script> the page embedding does not understand is "
                      "left: write <link rel=\"stylesheet\" href=\"file.css\" /> or "
                      "<script src=\"file.js\"></script>, one per line")
endif()

file(WRITE "${HTML_OUT}.tmp" "${_html}")
file(READ "${HTML_OUT}.tmp" _hex HEX)
file(SIZE "${HTML_OUT}.tmp" _size)
file(RENAME "${HTML_OUT}.tmp" "${HTML_OUT}")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," _bytes "${_hex}")
string(REPEAT "0x..," 20 _line)  # CMake regexes have no {n}
string(REGEX REPLACE "(${_line})" "\\1\n" _bytes "${_bytes}")

file(RELATIVE_PATH _source "${CMAKE_CURRENT_LIST_DIR}/.." "${PAGE}")
file(CONFIGURE OUTPUT "${CPP_OUT}" @ONLY CONTENT [=[
// Generated from @_source@ by cmake/embed_page.cmake at build time: edit the page, not this.
#include "weighlink/agent/page.hpp"

namespace weighlink::agent {
namespace {

// The page, @_size@ bytes, and a terminating zero (so an empty page is still an array).
constexpr unsigned char kPage[] = {
@_bytes@
0x00};

}  // namespace

std::string_view operator_page_html() {
  return {reinterpret_cast<const char*>(kPage), sizeof(kPage) - 1};
}

}  // namespace weighlink::agent
]=])
