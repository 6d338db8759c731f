// Writes the seed corpus for elf_loader_fuzz: small valid images and one of each
// kind of malformed image the loader refuses, so the fuzzer starts past the
// header checks instead of having to discover ELF from scratch.
#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/unit/vmm/elf_writer.h"

namespace {

using pvm::testing::BuildElf;
using pvm::testing::ElfSpec;
using pvm::testing::MinimalSpec;

bool WriteSeed(const std::string& dir, const std::string& name, const std::vector<std::byte>& b) {
  std::ofstream out(dir + "/" + name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  std::vector<std::pair<std::string, ElfSpec>> seeds;

  seeds.emplace_back("valid_minimal", MinimalSpec());
  ElfSpec stripped = MinimalSpec();
  stripped.symbols.clear();
  seeds.emplace_back("valid_stripped", stripped);
  ElfSpec many = MinimalSpec();
  for (uint64_t i = 0; i < 6; ++i) {
    many.segments.push_back({.flags = PF_R | PF_W, .vaddr = 0x200000 + i * 0x1000, .memsz = 8});
    many.symbols.push_back({.name = "obj" + std::to_string(i),
                            .value = 0x200000 + i * 0x1000,
                            .size = 8,
                            .type = STT_OBJECT});
  }
  many.segments.push_back({.type = PT_NOTE, .vaddr = 0});
  seeds.emplace_back("valid_many_segments", many);

  ElfSpec overlap = MinimalSpec();
  overlap.segments[1].vaddr = 0x100004;
  seeds.emplace_back("bad_overlap", overlap);
  ElfSpec outside = MinimalSpec();
  outside.segments[1].vaddr = 0x3f0000;
  seeds.emplace_back("bad_outside_window", outside);
  ElfSpec huge = MinimalSpec();
  huge.segments[1].memsz_override = ~0ull;
  seeds.emplace_back("bad_huge_memsz", huge);
  ElfSpec filesz = MinimalSpec();
  filesz.segments[1].memsz_override = 4;
  seeds.emplace_back("bad_filesz_gt_memsz", filesz);
  ElfSpec entry = MinimalSpec();
  entry.entry = 0x101000;
  seeds.emplace_back("bad_entry_in_data", entry);
  ElfSpec machine = MinimalSpec();
  machine.machine = EM_AARCH64;
  seeds.emplace_back("bad_machine", machine);
  ElfSpec dyn = MinimalSpec();
  dyn.type = ET_DYN;
  seeds.emplace_back("bad_type", dyn);
  ElfSpec none = MinimalSpec();
  none.segments.clear();
  seeds.emplace_back("bad_no_segments", none);

  for (const auto& [name, spec] : seeds) {
    if (!WriteSeed(dir, name, BuildElf(spec))) {
      std::perror(("cannot write seed " + name).c_str());
      return 1;
    }
  }
  std::vector<std::byte> truncated = BuildElf(MinimalSpec());
  truncated.resize(100);
  if (!WriteSeed(dir, "bad_truncated", truncated)) {
    std::perror("cannot write seed bad_truncated");
    return 1;
  }
  return 0;
}
