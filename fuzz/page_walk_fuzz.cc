// libFuzzer target: a guest-physical memory image full of arbitrary page tables,
// walked from an arbitrary CR3 for an arbitrary GVA.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>

#include "absl/status/statusor.h"
#include "daemon/vmm/guest_memory.h"
#include "daemon/vmm/page_tables.h"

namespace {

using pvm::vmm::GuestMemory;
using pvm::vmm::Translation;

// 64 KiB: 16 tables, enough for walks that share, loop back to or run off the end
// of memory.
constexpr uint64_t kMemorySize = 64 << 10;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "contract violated: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static absl::StatusOr<GuestMemory> memory = GuestMemory::Create(kMemorySize);
  if (!memory.ok()) Fail("cannot create guest memory");
  if (size < 16) return 0;
  uint64_t cr3;
  uint64_t gva;
  std::memcpy(&cr3, data, 8);
  std::memcpy(&gva, data + 8, 8);
  data += 16;
  size -= 16;

  absl::StatusOr<std::span<std::byte>> all = memory->Slice(0, kMemorySize);
  if (!all.ok()) Fail("cannot view guest memory");
  const size_t n = size < all->size() ? size : all->size();
  std::memcpy(all->data(), data, n);
  std::memset(all->data() + n, 0, all->size() - n);

  absl::StatusOr<Translation> t = pvm::vmm::TranslateGva(*memory, cr3, gva);
  if (t.ok()) {
    if (!pvm::vmm::IsCanonical(gva)) Fail("translated a non-canonical address");
    if (t->page_size != (1ull << 12) && t->page_size != (1ull << 21) &&
        t->page_size != (1ull << 30)) {
      Fail("odd page size");
    }
    if (t->gpa >= kMemorySize) Fail("result outside memory");
    if ((t->gpa ^ gva) & (t->page_size - 1)) Fail("page offset not preserved");
  } else {
    const absl::StatusCode code = t.status().code();
    if (code != absl::StatusCode::kInvalidArgument && code != absl::StatusCode::kNotFound &&
        code != absl::StatusCode::kOutOfRange) {
      Fail("undocumented status code");
    }
    if ((code == absl::StatusCode::kInvalidArgument) == pvm::vmm::IsCanonical(gva)) {
      Fail("INVALID_ARGUMENT must mean exactly: not canonical");
    }
  }
  return 0;
}
