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
# Patterns are printed escaped: an escape sequence or CR in one does not
# reach the terminal (check.sh looks for raw control bytes in every test).
fray_hostile(regex-escape-codes fail)

# `file` pieces (session/script_parse.c): only regular files, and by default
# only inside the script's own directory (--files-under, --no-files).
# NAME.anywhere: the same under --files-under / (WANT2): devices, directories
# and /proc/self/mem are still refused; /etc/passwd is then read and sent,
# and the echo server's answer fails the script.
foreach(row 12-file-devzero:error 13-file-dir:error 14-file-missing:error
            16-file-traversal:fail 17-file-urandom:error 18-file-proc-mem:error)
  string(REPLACE ":" ";" row ${row})
  list(GET row 0 n)
  list(GET row 1 anywhere)
  fray_hostile(${n} error)
  add_test(NAME hostile.${n}.anywhere
    COMMAND sh ${_hostile}/check.sh $<TARGET_FILE:fray_cli> ${_hostile}/${n}.fray ${anywhere}
            ${_hostile_ms} --files-under /)
  set_tests_properties(hostile.${n}.anywhere PROPERTIES TIMEOUT 30 LABELS hostile)
endforeach()
fray_hostile(15-file-fifo error)
set_tests_properties(hostile.15-file-fifo PROPERTIES ENVIRONMENT FRAY_HOSTILE_FIFO=fifo1)
add_test(NAME hostile.16-file-traversal.no-files
  COMMAND sh ${_hostile}/check.sh $<TARGET_FILE:fray_cli> ${_hostile}/16-file-traversal.fray
          error ${_hostile_ms} --no-files)
set_tests_properties(hostile.16-file-traversal.no-files PROPERTIES TIMEOUT 30 LABELS hostile)

# A UTF-8 byte order mark before the first line is skipped.
fray_hostile(46-bom pass)
