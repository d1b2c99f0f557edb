# Runs `fray replay --mutate 200` on a buggy script and checks that it fails
# (exit 1) with a memory-bound failure and leaves a reproducer that fails
# again under the whole schedule.
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
execute_process(COMMAND ${FRAY} replay --schedule whole ${repro}
  RESULT_VARIABLE rc2 OUTPUT_VARIABLE out2 ERROR_VARIABLE err2)
# Expectations are checked in full on replay, so the reproducer fails (the
# oversized or flipped send breaks them) - what matters is that it is a
# valid script fray can run: exit 1, not 2.
if(NOT rc2 EQUAL 1)
  message(FATAL_ERROR "reproducer should replay as a failing script (exit 1), got ${rc2}\n${out2}\n${err2}")
endif()
