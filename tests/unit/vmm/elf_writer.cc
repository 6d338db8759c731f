#include "tests/unit/vmm/elf_writer.h"

#include <algorithm>
#include <cstring>

namespace pvm::testing {
namespace {

void Append(std::vector<std::byte>& out, const void* data, size_t len) {
  const auto* p = static_cast<const std::byte*>(data);
  out.insert(out.end(), p, p + len);
}

void AlignTo(std::vector<std::byte>& out, size_t alignment) {
  while (out.size() % alignment != 0) out.push_back(std::byte{0});
}

template <typename T>
void Put(std::vector<std::byte>& out, size_t at, const T& value) {
  std::memcpy(out.data() + at, &value, sizeof(T));
}

}  // namespace

std::vector<std::byte> Bytes(std::initializer_list<int> values) {
  std::vector<std::byte> out;
  for (int v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

std::vector<std::byte> BuildElf(const ElfSpec& spec) {
  std::vector<std::byte> out(sizeof(Elf64_Ehdr) + spec.segments.size() * sizeof(Elf64_Phdr));

  // Segment contents, each 16-byte aligned after the headers.
  std::vector<uint64_t> offsets;
  for (const ElfSegmentSpec& seg : spec.segments) {
    AlignTo(out, 16);
    offsets.push_back(out.size());
    Append(out, seg.data.data(), seg.data.size());
  }

  // Optional symbol table: .symtab, .strtab, .shstrtab and the section headers.
  uint64_t shoff = 0;
  uint16_t shnum = 0;
  uint16_t shstrndx = 0;
  if (!spec.symbols.empty()) {
    std::string strtab(1, '\0');
    std::vector<Elf64_Sym> syms(1);  // index 0 is the undefined symbol
    for (const ElfSymbolSpec& s : spec.symbols) {
      Elf64_Sym sym{};
      sym.st_name = static_cast<uint32_t>(strtab.size());
      strtab += s.name;
      strtab.push_back('\0');
      sym.st_info = ELF64_ST_INFO(STB_GLOBAL, s.type);
      sym.st_shndx = s.shndx;
      sym.st_value = s.value;
      sym.st_size = s.size;
      syms.push_back(sym);
    }
    const std::string shstrtab = std::string("\0.symtab\0.strtab\0.shstrtab\0", 27);

    AlignTo(out, 8);
    const uint64_t symtab_off = out.size();
    Append(out, syms.data(), syms.size() * sizeof(Elf64_Sym));
    const uint64_t strtab_off = out.size();
    Append(out, strtab.data(), strtab.size());
    const uint64_t shstrtab_off = out.size();
    Append(out, shstrtab.data(), shstrtab.size());
    AlignTo(out, 8);
    shoff = out.size();

    Elf64_Shdr sh[4] = {};
    sh[1].sh_name = 1;
    sh[1].sh_type = SHT_SYMTAB;
    sh[1].sh_offset = symtab_off;
    sh[1].sh_size = syms.size() * sizeof(Elf64_Sym);
    sh[1].sh_link = 2;
    sh[1].sh_info = 1;
    sh[1].sh_addralign = 8;
    sh[1].sh_entsize = sizeof(Elf64_Sym);
    sh[2].sh_name = 9;
    sh[2].sh_type = SHT_STRTAB;
    sh[2].sh_offset = strtab_off;
    sh[2].sh_size = strtab.size();
    sh[2].sh_addralign = 1;
    sh[3].sh_name = 17;
    sh[3].sh_type = SHT_STRTAB;
    sh[3].sh_offset = shstrtab_off;
    sh[3].sh_size = shstrtab.size();
    sh[3].sh_addralign = 1;
    Append(out, sh, sizeof(sh));
    shnum = 4;
    shstrndx = 3;
  }

  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = spec.elf_class;
  eh.e_ident[EI_DATA] = spec.data_encoding;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_ident[EI_OSABI] = ELFOSABI_SYSV;
  eh.e_type = spec.type;
  eh.e_machine = spec.machine;
  eh.e_version = EV_CURRENT;
  eh.e_entry = spec.entry;
  eh.e_phoff = spec.phoff.value_or(spec.segments.empty() ? 0 : sizeof(Elf64_Ehdr));
  eh.e_shoff = shoff;
  eh.e_ehsize = sizeof(Elf64_Ehdr);
  eh.e_phentsize = spec.phentsize.value_or(sizeof(Elf64_Phdr));
  eh.e_phnum = spec.phnum.value_or(static_cast<uint16_t>(spec.segments.size()));
  eh.e_shentsize = sizeof(Elf64_Shdr);
  eh.e_shnum = shnum;
  eh.e_shstrndx = shstrndx;
  Put(out, 0, eh);

  for (size_t i = 0; i < spec.segments.size(); ++i) {
    const ElfSegmentSpec& seg = spec.segments[i];
    Elf64_Phdr ph{};
    ph.p_type = seg.type;
    ph.p_flags = seg.flags;
    ph.p_offset = seg.offset.value_or(offsets[i]);
    ph.p_vaddr = seg.vaddr;
    ph.p_paddr = seg.paddr.value_or(seg.vaddr);
    ph.p_filesz = seg.filesz.value_or(seg.data.size());
    ph.p_memsz = seg.memsz_override.value_or(std::max<uint64_t>(seg.memsz, seg.data.size()));
    ph.p_align = 0x1000;
    Put(out, sizeof(Elf64_Ehdr) + i * sizeof(Elf64_Phdr), ph);
  }
  return out;
}

ElfSpec MinimalSpec() {
  ElfSpec spec;
  spec.entry = 0x100000;
  // mov $0x2a, %eax; out %al, $0xe9; hlt
  spec.segments.push_back(ElfSegmentSpec{.type = PT_LOAD,
                                         .flags = PF_R | PF_X,
                                         .vaddr = 0x100000,
                                         .data = Bytes({0xb8, 0x2a, 0, 0, 0, 0xe6, 0xe9, 0xf4})});
  spec.segments.push_back(ElfSegmentSpec{.type = PT_LOAD,
                                         .flags = PF_R | PF_W,
                                         .vaddr = 0x101000,
                                         .data = Bytes({1, 2, 3, 4, 5, 6, 7, 8}),
                                         .memsz = 0x100});
  spec.symbols = {
      {.name = "_start", .value = 0x100000, .size = 8, .type = STT_FUNC},
      {.name = "counter_value", .value = 0x101010, .size = 8, .type = STT_OBJECT},
  };
  return spec;
}

}  // namespace pvm::testing
