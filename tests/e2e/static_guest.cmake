# Static x86-64 guest programs: what the e2e tests and tools/bench run natively
# and inside the sandbox. They are the programs, not the kernel, so they are
# built plainly (-static -O1), whatever the rest of the tree is built with.
#
#   include(<path to>/tests/e2e/static_guest.cmake)
#   sandbox_strip_sanitizers()    # once per directory that builds guests
#   sandbox_static_guest(TARGET t OUTPUT_NAME name SOURCES a.c [PIE])
#
# sandbox_static_guest builds ${CMAKE_CURRENT_BINARY_DIR}/<OUTPUT_NAME>.

# A sanitizer runtime cannot be linked into a static program: drop the tree's
# sanitizer flags from the calling directory (they are inherited directory
# options, so this is the place to undo them).
macro(sandbox_strip_sanitizers)
  get_directory_property(_ssg_opts COMPILE_OPTIONS)
  list(FILTER _ssg_opts EXCLUDE REGEX "^-f(no-)?sanitize")
  set_directory_properties(PROPERTIES COMPILE_OPTIONS "${_ssg_opts}")
  get_directory_property(_ssg_opts LINK_OPTIONS)
  list(FILTER _ssg_opts EXCLUDE REGEX "^-f(no-)?sanitize")
  set_directory_properties(PROPERTIES LINK_OPTIONS "${_ssg_opts}")
endmacro()

function(sandbox_static_guest)
  cmake_parse_arguments(G "PIE" "TARGET;OUTPUT_NAME" "SOURCES" ${ARGN})
  add_executable(${G_TARGET} ${G_SOURCES})
  set_target_properties(${G_TARGET} PROPERTIES OUTPUT_NAME ${G_OUTPUT_NAME})
  target_compile_options(${G_TARGET} PRIVATE -O1)
  if(G_PIE)
    set_target_properties(${G_TARGET} PROPERTIES POSITION_INDEPENDENT_CODE ON)
    target_compile_options(${G_TARGET} PRIVATE -fPIE)
    target_link_options(${G_TARGET} PRIVATE -static-pie)
  else()
    set_target_properties(${G_TARGET} PROPERTIES POSITION_INDEPENDENT_CODE OFF)
    target_compile_options(${G_TARGET} PRIVATE -fno-pie)
    target_link_options(${G_TARGET} PRIVATE -static)
  endif()
endfunction()
