// A tiny ELF64 writer for tests and fuzz seeds: every field the loader checks can
// be set to a bad value on purpose, which a real linker would never produce.
#ifndef PVMD_TESTS_UNIT_VMM_ELF_WRITER_H_
#define PVMD_TESTS_UNIT_VMM_ELF_WRITER_H_

#include <elf.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pvm::testing {

struct ElfSegmentSpec {
  uint32_t type = PT_LOAD;
  uint32_t flags = PF_R | PF_X;
  uint64_t vaddr = 0;
  std::vector<std::byte> data;  // the file bytes (p_filesz unless overridden)
  uint64_t memsz = 0;           // raised to data.size() when smaller, unless overridden
  // Raw overrides, for malformed headers.
  std::optional<uint64_t> offset;
  std::optional<uint64_t> filesz;
  std::optional<uint64_t> memsz_override;
  std::optional<uint64_t> paddr;
};

struct ElfSymbolSpec {
  std::string name;
  uint64_t value = 0;
  uint64_t size = 0;
  unsigned char type = STT_FUNC;
  uint16_t shndx = SHN_ABS;
};

struct ElfSpec {
  unsigned char elf_class = ELFCLASS64;
  unsigned char data_encoding = ELFDATA2LSB;
  uint16_t type = ET_EXEC;
  uint16_t machine = EM_X86_64;
  uint64_t entry = 0;
  std::vector<ElfSegmentSpec> segments;
  std::vector<ElfSymbolSpec> symbols;  // a .symtab is written when not empty
  std::optional<uint16_t> phnum;       // e_phnum override
  std::optional<uint64_t> phoff;       // e_phoff override
  std::optional<uint16_t> phentsize;   // e_phentsize override
};

std::vector<std::byte> BuildElf(const ElfSpec& spec);

// A well-formed two-segment image: code at 0x100000 (entry there), data + bss at
// 0x101000, symbols `_start` (func) and `counter_value` (object).
ElfSpec MinimalSpec();

std::vector<std::byte> Bytes(std::initializer_list<int> values);

}  // namespace pvm::testing

#endif  // PVMD_TESTS_UNIT_VMM_ELF_WRITER_H_
