// libFuzzer target: arbitrary bytes as a guest image. Besides "no crash, no UB",
// it checks the loader's contract on every input it accepts or refuses.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "daemon/vmm/elf_loader.h"
#include "daemon/vmm/guest_memory.h"

namespace {

using pvm::vmm::GuestImage;
using pvm::vmm::GuestMemory;
using pvm::vmm::LoadedSegment;
using pvm::vmm::LoadElfImage;
using pvm::vmm::LoadWindow;

// Small, so that most random segment addresses fall outside and the interesting
// boundary cases are reachable; the window mirrors what a 4 MiB, 1-vCPU VM uses.
constexpr uint64_t kMemorySize = 4 << 20;
constexpr LoadWindow kWindow{.floor = 0x100000, .ceiling = 0x3f0000};

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "contract violated: %s\n", what);
  std::abort();
}

GuestMemory& Memory() {
  // Created once: a mapping per input would dominate the run time.
  static absl::StatusOr<GuestMemory> memory = GuestMemory::Create(kMemorySize);
  if (!memory.ok()) Fail("cannot create guest memory");
  return *memory;
}

void CheckImage(const GuestImage& image) {
  bool entry_in_code = false;
  for (size_t i = 0; i < image.segments().size(); ++i) {
    const LoadedSegment& s = image.segments()[i];
    if (s.memory_size == 0 || s.file_size > s.memory_size) Fail("bad segment sizes");
    if (s.gpa < kWindow.floor || s.memory_size > kWindow.ceiling - s.gpa) {
      Fail("segment outside the window");
    }
    for (size_t j = 0; j < i; ++j) {
      const LoadedSegment& o = image.segments()[j];
      if (s.gpa < o.gpa + o.memory_size && o.gpa < s.gpa + s.memory_size) {
        Fail("overlapping segments");
      }
    }
    if (s.executable && image.entry() >= s.gpa && image.entry() - s.gpa < s.memory_size) {
      entry_in_code = true;
    }
    // The bss part must have been zero-filled.
    absl::StatusOr<std::span<const std::byte>> bss =
        static_cast<const GuestMemory&>(Memory()).Slice(s.gpa + s.file_size,
                                                        s.memory_size - s.file_size);
    if (!bss.ok()) Fail("segment not inside memory");
    for (std::byte b : *bss) {
      if (b != std::byte{0}) Fail("bss not zero-filled");
    }
  }
  if (!entry_in_code) Fail("entry outside executable segments");
  if (image.segments().empty()) Fail("image without segments");

  const auto& symbols = image.symbols();
  for (size_t i = 1; i < symbols.size(); ++i) {
    if (symbols[i - 1].address > symbols[i].address) Fail("symbols not sorted");
  }
  for (const auto& s : symbols) {
    if (s.name.empty()) Fail("unnamed symbol");
    if (!image.FindSymbol(s.name).has_value()) Fail("FindSymbol misses a symbol");
    std::optional<pvm::vmm::GuestSymbol> c = image.SymbolContaining(s.address);
    if (s.size > 0 && !c.has_value()) Fail("SymbolContaining misses a symbol's start");
    (void)image.SymbolContaining(s.address + s.size);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  GuestMemory& memory = Memory();
  const std::span<const std::byte> file(reinterpret_cast<const std::byte*>(data), size);
  absl::StatusOr<GuestImage> image = LoadElfImage(file, kWindow, memory);
  if (image.ok()) {
    CheckImage(*image);
  } else {
    if (image.status().code() != absl::StatusCode::kInvalidArgument) Fail("not INVALID_ARGUMENT");
    if (image.status().message().empty()) Fail("empty error message");
  }
  return 0;
}
