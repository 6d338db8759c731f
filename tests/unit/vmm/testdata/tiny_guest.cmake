# pvm_tiny_guest(OUT_VAR): builds testdata/tiny_guest.elf in the calling directory's
# binary dir with the C compiler and ld, and returns its path. Shared by the unit
# tests and the fuzz seed corpus.
set(PVM_TINY_GUEST_DIR ${CMAKE_CURRENT_LIST_DIR})
find_program(PVM_LD NAMES ld.bfd ld REQUIRED)

function(pvm_tiny_guest out_var)
  set(src ${PVM_TINY_GUEST_DIR}/tiny_guest.c)
  set(script ${PVM_TINY_GUEST_DIR}/tiny_guest.ld)
  set(obj ${CMAKE_CURRENT_BINARY_DIR}/tiny_guest.o)
  set(elf ${CMAKE_CURRENT_BINARY_DIR}/tiny_guest.elf)
  # No sanitizer or PIE flags from the host build: this is guest code.
  add_custom_command(
    OUTPUT ${elf}
    COMMAND ${CMAKE_C_COMPILER} -c -O1 -ffreestanding -fno-pic -fno-stack-protector
            -fno-asynchronous-unwind-tables -fcf-protection=none -mno-red-zone -o ${obj} ${src}
    COMMAND ${PVM_LD} -nostdlib -static -T ${script} -z max-page-size=0x1000 --build-id=none
            -o ${elf} ${obj}
    DEPENDS ${src} ${script}
    COMMENT "Building tiny_guest.elf (loader test image)")
  set(${out_var} ${elf} PARENT_SCOPE)
endfunction()
