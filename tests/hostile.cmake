# Hostile scripts from a robustness audit of fray (tests/hostile/): regexes
# that made glibc compile or match for minutes or read past the pattern,
# `file` pieces naming devices, directories, FIFOs or paths outside the
# script's directory, a UTF-8 BOM. Each must end quickly with the outcome
# listed: a verdict, or an error located at file:line:column
# (tests/hostile/check.sh). Sanitizer builds get more time, not less rigour.
if(NOT TARGET fray_cli)
  return()
endif()
set(_hostile ${PROJECT_SOURCE_DIR}/tests/hostile)
set(_hostile_ms 1000)
if(FRAY_SANITIZE)
  set(_hostile_ms 4000)
endif()

# hostile.NAME: replays tests/hostile/NAME.fray, expecting WANT.
function(fray_hostile name want)
  add_test(NAME hostile.${name}
    COMMAND sh ${_hostile}/check.sh $<TARGET_FILE:fray_cli> ${_hostile}/${name}.fray ${want}
            ${_hostile_ms} ${ARGN})
  set_tests_properties(hostile.${name} PROPERTIES TIMEOUT 30 LABELS hostile)
endfunction()

# Regular expressions (session/regex.c).
fray_hostile(regex-bracket-class-oob-short error)
fray_hostile(regex-bracket-class-oob error)
fray_hostile(regex-slow-4096-elements fail)
fray_hostile(regex-stacked-question-plus-3s fail)
fray_hostile(regex-stacked-question-plus-hang fail)
fray_hostile(19-regex-deep-nest error)
fray_hostile(20-regex-nest-31 fail)
fray_hostile(21-regex-stacked fail)
fray_hostile(22-regex-interval fail)
fray_hostile(23-regex-unterminated-bracket error)
fray_hostile(24-regex-backref-blowup error)
fray_hostile(58-regex-nul error)
fray_hostile(59-glob-exponential fail)
fray_hostile(69-regex-alternation-many fail)
