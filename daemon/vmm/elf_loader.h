// ELF64 x86-64 guest images (libelf): validation, loading of PT_LOAD segments into
// guest memory, entry point and symbol table.
#ifndef PVMD_DAEMON_VMM_ELF_LOADER_H_
#define PVMD_DAEMON_VMM_ELF_LOADER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/vmm/guest_memory.h"

namespace pvm::vmm {

struct GuestSymbol {
  std::string name;
  uint64_t address = 0;
  uint64_t size = 0;
  bool is_function = false;
};

struct LoadedSegment {
  uint64_t gpa = 0;
  uint64_t file_size = 0;
  uint64_t memory_size = 0;
  bool executable = false;
  bool writable = false;
};

class GuestImage {
 public:
  GuestImage(uint64_t entry, std::vector<LoadedSegment> segments, std::vector<GuestSymbol> symbols);

  uint64_t entry() const { return entry_; }
  const std::vector<LoadedSegment>& segments() const { return segments_; }
  const std::vector<GuestSymbol>& symbols() const { return symbols_; }
  // One past the highest byte any segment occupies.
  uint64_t end() const;

  std::optional<GuestSymbol> FindSymbol(std::string_view name) const;
  // The symbol whose [address, address+size) holds addr (for "func+0x12" displays);
  // the innermost one when symbols nest. A zero-sized symbol (an assembly label
  // without .size) holds only its own address.
  std::optional<GuestSymbol> SymbolContaining(uint64_t addr) const;

 private:
  uint64_t entry_;
  std::vector<LoadedSegment> segments_;
  std::vector<GuestSymbol> symbols_;  // sorted by address
};

// Where segments may go: [floor, ceiling) of guest-physical memory.
struct LoadWindow {
  uint64_t floor = 0;
  uint64_t ceiling = 0;
};

// Validates the whole image first (class, data, machine, type, program headers,
// segment bounds and overlaps, entry inside an executable segment) and only then
// copies segments and zero-fills their bss. Every error is INVALID_ARGUMENT with a
// message that names the offending field or segment.
absl::StatusOr<GuestImage> LoadElfImage(std::span<const std::byte> file, const LoadWindow& window,
                                        GuestMemory& memory);

// Reads an image file, refusing anything larger than max_bytes.
absl::StatusOr<std::vector<std::byte>> ReadImageFile(const std::string& path, uint64_t max_bytes);

}  // namespace pvm::vmm

#endif  // PVMD_DAEMON_VMM_ELF_LOADER_H_
