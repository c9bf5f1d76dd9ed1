# Options with their legal values checked (STYLE.md habit 13).

set(_pd_cuda_values AUTO ON OFF SIM)
set(PINTDIFF_CUDA AUTO CACHE STRING "Build the CUDA backend: AUTO, ON, OFF or SIM (on the CPU, for tests)")
set_property(CACHE PINTDIFF_CUDA PROPERTY STRINGS ${_pd_cuda_values})
if(NOT PINTDIFF_CUDA IN_LIST _pd_cuda_values)
  message(FATAL_ERROR "PINTDIFF_CUDA must be one of ${_pd_cuda_values}, got '${PINTDIFF_CUDA}'")
endif()

option(PINTDIFF_WERROR "Treat compiler warnings on C sources as errors" OFF)

set(_pd_sanitize_values "" address-undefined)
set(PINTDIFF_SANITIZE "" CACHE STRING "Sanitizer build: empty or address-undefined")
if(NOT PINTDIFF_SANITIZE IN_LIST _pd_sanitize_values)
  message(FATAL_ERROR "PINTDIFF_SANITIZE must be empty or address-undefined, got '${PINTDIFF_SANITIZE}'")
endif()
if(PINTDIFF_SANITIZE STREQUAL "address-undefined")
  # -fno-sanitize-recover: without it UBSan prints and exits 0 (PLATFORM.md §5)
  set(_pd_san -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_compile_options("$<$<COMPILE_LANGUAGE:C,CXX>:${_pd_san}>")
  add_link_options(${_pd_san})
endif()

# Warnings on our C sources: -Wall -Wextra, errors in CI (PINTDIFF_WERROR=ON).
function(pd_target_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:C>:-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
                            -Werror=implicit-function-declaration -Wvla>
    $<$<AND:$<COMPILE_LANGUAGE:C>,$<BOOL:${PINTDIFF_WERROR}>>:-Werror>)
  # -std=c11 hides POSIX (strdup, clock_gettime, posix_memalign): ask for it explicitly
  target_compile_definitions(${target} PRIVATE _POSIX_C_SOURCE=200809L)
endfunction()
