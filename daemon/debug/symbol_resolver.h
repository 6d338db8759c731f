// Guest addresses by symbol ("kcounter_loop", "kcounter_loop+0x10") and back.
#ifndef PVMD_DAEMON_DEBUG_SYMBOL_RESOLVER_H_
#define PVMD_DAEMON_DEBUG_SYMBOL_RESOLVER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "daemon/vmm/elf_loader.h"

namespace pvm::debug {

// INVALID_ARGUMENT for an unknown symbol or a malformed offset.
absl::StatusOr<uint64_t> ResolveSymbol(const vmm::GuestImage& image, const std::string& expr);

// "name+0x4" for an address inside a symbol, "name" at its start, "" outside all.
std::string DescribeAddress(const vmm::GuestImage& image, uint64_t address);

}  // namespace pvm::debug

#endif  // PVMD_DAEMON_DEBUG_SYMBOL_RESOLVER_H_
