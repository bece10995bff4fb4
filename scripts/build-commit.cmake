# Writes OUT: #define FRUGAL_BUILD_COMMIT "<sha>" (or "<sha>-dirty" when
# tracked files differ from it, "unknown" outside a git checkout), the
# commit the library is built from, which results record. Run at every
# build (cmake -DSRC=... -DOUT=... -P build-commit.cmake); OUT is rewritten
# only when its text changes, so an unchanged commit recompiles nothing.
set(commit "unknown")
execute_process(COMMAND git -C "${SRC}" rev-parse HEAD
                OUTPUT_VARIABLE sha OUTPUT_STRIP_TRAILING_WHITESPACE
                RESULT_VARIABLE rc ERROR_QUIET)
if(rc EQUAL 0 AND sha MATCHES "^[0-9a-f]+$")
  set(commit "${sha}")
  execute_process(COMMAND git -C "${SRC}" status --porcelain --untracked-files=no
                  OUTPUT_VARIABLE changes RESULT_VARIABLE rc2 ERROR_QUIET)
  if(rc2 EQUAL 0 AND NOT changes STREQUAL "")
    set(commit "${sha}-dirty")
  endif()
endif()
set(text "#define FRUGAL_BUILD_COMMIT \"${commit}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
else()
  set(old "")
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
