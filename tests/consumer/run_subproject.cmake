# Configures tests/consumer/subproject (a parent taking netref in by NETREF_HOW), which checks
# what netref did to it, then (with -DBUILD_CONSUMER=ON) builds and runs the consumer.
# Arguments: -DNETREF_HOW=... -DNETREF_SOURCE=... -DCONSUMER_SOURCE=... -DWORK=...
# [-DBUILD_CONSUMER=ON] [-DLAUNCHER=ccache]
file(REMOVE_RECURSE "${WORK}")
set(launcher "")
if(LAUNCHER)
  set(launcher -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" -S "${CONSUMER_SOURCE}/subproject" -B "${WORK}"
                        -DNETREF_HOW=${NETREF_HOW} -DNETREF_SOURCE=${NETREF_SOURCE} ${launcher}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the parent project failed (${rc})")
endif()
if(NOT BUILD_CONSUMER)
  return()
endif()
include(ProcessorCount)
ProcessorCount(cores)
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${WORK}" --target consumer -j${cores}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the consumer failed (${rc})")
endif()
execute_process(COMMAND "${WORK}/consumer" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the consumer failed (${rc})")
endif()
