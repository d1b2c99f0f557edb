# Runs `fray replay --mutate 200` on a buggy script and checks that it fails
# (exit 1) with a memory-bound failure and leaves a reproducer that fails
# again, the same way, under the command in its `# replay:` line.
file(REMOVE_RECURSE ${OUT})
execute_process(COMMAND ${FRAY} replay --mutate 200 --seed 1 --save-failures ${OUT} ${SCRIPT}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 1)
  message(FATAL_ERROR "want exit 1 (bug found), got ${rc}\n${out}\n${err}")
endif()
if(NOT out MATCHES "bound: the heap grew")
  message(FATAL_ERROR "no memory-bound failure reported:\n${out}")
endif()
file(GLOB repro ${OUT}/*.fray)
list(LENGTH repro n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "want one reproducer in ${OUT}, found ${n}")
endif()
# Replayed as its header says, the variant fails the same way: its file
# holds exactly what ran (expectations the mutation broke replaced by
# `< any`), and the whole run has the same heap bound.
file(STRINGS ${repro} replay_line REGEX "^# replay: fray ")
string(REGEX REPLACE "^# replay: fray replay " "" replay_args "${replay_line}")
separate_arguments(replay_args UNIX_COMMAND "${replay_args}")
execute_process(COMMAND ${FRAY} replay ${replay_args}
  RESULT_VARIABLE rc2 OUTPUT_VARIABLE out2 ERROR_VARIABLE err2)
if(NOT rc2 EQUAL 1 OR NOT out2 MATCHES "bound: the heap grew")
  message(FATAL_ERROR "reproducer does not fail the same way (exit ${rc2}):\n${out2}\n${err2}")
endif()
