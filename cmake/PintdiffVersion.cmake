# Run at build time (not configure time): write include/pintdiff/version.h with the current git commit,
# touching the file only when its text changes, so that results record the commit they were built at
# ("-dirty": uncommitted changes to the sources; results/ and docs/ do not count).
#   cmake -DSRC=... -DOUT=... -DVERSION=... -P PintdiffVersion.cmake
execute_process(COMMAND git rev-parse --short=12 HEAD WORKING_DIRECTORY ${SRC}
                OUTPUT_VARIABLE PD_GIT_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
execute_process(COMMAND git status --porcelain --untracked-files=no -- include src mpi cmake tools CMakeLists.txt
                WORKING_DIRECTORY ${SRC}
                OUTPUT_VARIABLE PD_GIT_DIRTY OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT PD_GIT_COMMIT)
  set(PD_GIT_COMMIT "unknown")
elseif(PD_GIT_DIRTY)
  string(APPEND PD_GIT_COMMIT "-dirty")
endif()
set(PROJECT_VERSION ${VERSION})
configure_file(${SRC}/cmake/version.h.in ${OUT}.new @ONLY)
file(READ ${OUT}.new _new)
if(EXISTS ${OUT})
  file(READ ${OUT} _old)
else()
  set(_old "")
endif()
if(NOT _new STREQUAL _old)
  file(RENAME ${OUT}.new ${OUT})
else()
  file(REMOVE ${OUT}.new)
endif()
