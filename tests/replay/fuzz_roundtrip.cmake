# fray fuzz-encode / fuzz-decode over the corpus scripts of the good handlers.
#   MODE=roundtrip (default): decode(encode(s)) replays the same as s, for
#     every script that encodes without loss; at least a dozen must.
#   MODE=answers: every script, encoded (what has no encoding left out) and decoded with
#     --answers (the handler's whole-schedule answers as expectations), must
#     pass random schedules, since a correct handler's answers do not depend
#     on the reads; most must get answers (`<` lines; a peer leaving
#     mid-frame gets none).
if(NOT MODE)
  set(MODE roundtrip)
endif()
file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})
file(GLOB scripts ${SRC}/corpus/echo/*.fray ${SRC}/corpus/chat/*.fray ${SRC}/corpus/http/*.fray
     ${SRC}/corpus/resp/*.fray ${SRC}/corpus/lenrpc/*.fray ${SRC}/corpus/wc/*.fray)
set(decode_opts "")
set(replay_opts --schedule whole)
if(MODE STREQUAL "answers")
  set(decode_opts --answers)
  set(replay_opts --schedule random --runs 50)
endif()
set(done 0)
set(answered 0)
foreach(s ${scripts})
  get_filename_component(dir ${s} DIRECTORY)
  get_filename_component(handler ${dir} NAME)
  get_filename_component(base ${s} NAME_WE)
  set(bin ${OUT}/${handler}-${base}.bin)
  set(fray ${OUT}/${handler}-${base}.fray)
  execute_process(COMMAND ${FRAY} fuzz-encode ${s} OUTPUT_FILE ${bin}
    RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    if(NOT err MATCHES "no encoding|more than 4 clients")
      message(FATAL_ERROR "fuzz-encode ${s} failed (${rc}): ${err}")
    endif()
    continue()
  endif()
  # fuzz-encode left out expectations it cannot carry (noted on stderr):
  # not a lossless encoding, so no round trip to check.
  if(MODE STREQUAL "roundtrip" AND err MATCHES "left out")
    continue()
  endif()
  execute_process(COMMAND ${FRAY} fuzz-decode --handler ${handler} ${decode_opts} ${bin}
    OUTPUT_FILE ${fray} RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR (MODE STREQUAL "answers" AND NOT err STREQUAL ""))
    message(FATAL_ERROR "fuzz-decode ${decode_opts} of ${s} failed (${rc}): ${err}")
  endif()
  file(STRINGS ${fray} answers REGEX "^c[0-3] < ")
  if(answers)
    math(EXPR answered "${answered} + 1")
  endif()
  execute_process(COMMAND ${FRAY} replay ${replay_opts} ${fray}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${fray} (decoded from ${s}) fails `fray replay ${replay_opts}` (${rc}):\n${out}\n${err}")
  endif()
  math(EXPR done "${done} + 1")
endforeach()
if(MODE STREQUAL "answers")
  if(done LESS 20 OR answered LESS 15)
    message(FATAL_ERROR "${done} scripts checked, ${answered} with answers; expected at least 20 and 15")
  endif()
elseif(done LESS 12)
  message(FATAL_ERROR "only ${done} corpus scripts round-tripped; expected at least 12")
endif()
message(STATUS "${MODE}: ${done} scripts (${answered} with `<` lines) replay as they should")
