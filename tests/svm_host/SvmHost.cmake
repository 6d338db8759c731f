# pvm_add_svm_host_test(NAME name TARGET gtest_target [ARGS a b ...] [FILES /abs/path ...]
#                       [TIMEOUT s])
# Registers a ctest test that runs TARGET's binary (with ARGS, e.g. --gtest_filter=...)
# inside a real SVM KVM host: Debian's kernel with kvm-amd under QEMU/TCG (svm_host_run.sh).
# The built-in guest images and FILES are copied into it at their absolute paths.
# TIMEOUT bounds the program inside (default 120 s); ctest's own timeout adds the margin
# for booting the host.  Exit 77 (no qemu/busybox/kernel) is a skip, except under CI=true.
# Included by tests/CMakeLists.txt before the test directories, so any of them can use it.
set(PVM_SVM_HOST_RUN ${CMAKE_CURRENT_LIST_DIR}/svm_host_run.sh)
# vCPUs of the SVM host: QEMU runs one host thread per vCPU (multi-threaded TCG).
set(PVM_SVM_HOST_SMP 2)

# ctest runs binaries but never builds them: every build that builds the tests also
# builds what the SVM host tests run.
add_custom_target(pvm_svm_host_deps ALL)

function(pvm_add_svm_host_test)
  cmake_parse_arguments(S "" "NAME;TARGET;TIMEOUT" "ARGS;FILES" ${ARGN})
  if(NOT S_NAME OR NOT S_TARGET)
    message(FATAL_ERROR "pvm_add_svm_host_test: NAME and TARGET are required")
  endif()
  if(NOT S_TIMEOUT)
    set(S_TIMEOUT 120)
  endif()
  set(images)
  foreach(guest IN LISTS PVM_GUEST_NAMES)
    list(APPEND images ${PVM_GUEST_BUILD_DIR}/${guest}.elf)
  endforeach()
  set(files ${images} ${S_FILES})
  list(JOIN files " " files)

  add_test(NAME ${S_NAME}
           COMMAND ${PVM_SVM_HOST_RUN} ${CMAKE_BINARY_DIR}/svm-host/${S_NAME} ${S_TIMEOUT} --
                   $<TARGET_FILE:${S_TARGET}> ${S_ARGS})
  # The script allows 90 s for boot and power-off on top of the program's bound, boots
  # a second time when the emulated host itself hangs, and runs failed gtest cases once
  # more: at most four boots.
  math(EXPR ctest_timeout "4 * (${S_TIMEOUT} + 90) + 20")
  set_tests_properties(${S_NAME} PROPERTIES
    LABELS "svm_host;kvm"
    TIMEOUT ${ctest_timeout}
    SKIP_RETURN_CODE 77
    PROCESSORS ${PVM_SVM_HOST_SMP}
    REQUIRED_FILES "${images}"
    ENVIRONMENT "PVM_SVM_HOST_FILES=${files};PVM_SVM_HOST_SMP=${PVM_SVM_HOST_SMP};PVM_SVM_HOST_CACHE=${CMAKE_BINARY_DIR}/svm-host/cache")
  add_dependencies(pvm_svm_host_deps ${S_TARGET} pvm_guests)
endfunction()
