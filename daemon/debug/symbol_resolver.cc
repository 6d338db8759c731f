#include "daemon/debug/symbol_resolver.h"

#include <cerrno>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace pvm::debug {

absl::StatusOr<uint64_t> ResolveSymbol(const vmm::GuestImage& image, const std::string& expr) {
  const size_t plus = expr.find('+');
  const std::string name = expr.substr(0, plus);
  uint64_t offset = 0;
  if (plus != std::string::npos) {
    const std::string text = expr.substr(plus + 1);
    char* end = nullptr;
    errno = 0;
    offset = std::strtoull(text.c_str(), &end, 0);
    if (text.empty() || *end != '\0' || errno != 0 || text[0] == '-') {
      return absl::InvalidArgumentError(
          absl::StrCat("bad offset '", text, "' in '", expr, "': use name+0x10 or name+16"));
    }
  }
  if (name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("no symbol name in '", expr, "'"));
  }
  std::optional<vmm::GuestSymbol> symbol = image.FindSymbol(name);
  if (!symbol) {
    return absl::InvalidArgumentError(absl::StrCat("the guest image has no symbol '", name, "'"));
  }
  return symbol->address + offset;
}

std::string DescribeAddress(const vmm::GuestImage& image, uint64_t address) {
  std::optional<vmm::GuestSymbol> symbol = image.SymbolContaining(address);
  if (!symbol) {
    return "";
  }
  if (address == symbol->address) {
    return symbol->name;
  }
  return absl::StrFormat("%s+0x%x", symbol->name, address - symbol->address);
}

}  // namespace pvm::debug
