# decode(encode(s)) replays the same as s, for every corpus script of the
# good handlers that encodes without loss; at least a dozen must.
file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})
file(GLOB scripts ${SRC}/corpus/echo/*.fray ${SRC}/corpus/chat/*.fray ${SRC}/corpus/http/*.fray
     ${SRC}/corpus/resp/*.fray ${SRC}/corpus/lenrpc/*.fray)
set(done 0)
foreach(s ${scripts})
  get_filename_component(dir ${s} DIRECTORY)
  get_filename_component(handler ${dir} NAME)
  get_filename_component(base ${s} NAME_WE)
  set(bin ${OUT}/${handler}-${base}.bin)
  execute_process(COMMAND ${FRAY} fuzz-encode ${s} OUTPUT_FILE ${bin} RESULT_VARIABLE rc
    ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    if(NOT err MATCHES "no encoding|more than 4 clients")
      message(FATAL_ERROR "fuzz-encode ${s} failed (${rc}): ${err}")
    endif()
    continue()
  endif()
  execute_process(COMMAND ${FRAY} fuzz-decode --handler ${handler} ${bin}
    OUTPUT_FILE ${OUT}/${handler}-${base}.fray RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "fuzz-decode of ${s} failed (${rc}): ${err}")
  endif()
  execute_process(COMMAND ${FRAY} replay --schedule whole ${OUT}/${handler}-${base}.fray
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "decoded ${s} does not replay as the original does (${rc}):\n${out}\n${err}")
  endif()
  math(EXPR done "${done} + 1")
endforeach()
if(done LESS 12)
  message(FATAL_ERROR "only ${done} corpus scripts round-tripped; expected at least 12")
endif()
message(STATUS "${done} scripts round-tripped")

