#include "client/debug_args.h"

#include <charconv>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace pvm::ctl {

absl::StatusOr<uint64_t> ParseGuestAddress(absl::string_view text) {
  absl::string_view digits = text;
  int base = 10;
  if (absl::StartsWithIgnoreCase(digits, "0x")) {
    digits.remove_prefix(2);
    base = 16;
  }
  uint64_t value = 0;
  // from_chars takes no sign, no prefix and no spaces, which is what is wanted here.
  const auto [end, error] =
      std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
  if (digits.empty() || error == std::errc::invalid_argument ||
      end != digits.data() + digits.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not an address (0x-hex or decimal)"));
  }
  if (error == std::errc::result_out_of_range) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' does not fit in 64 bits"));
  }
  return value;
}

absl::StatusOr<v1::BreakpointKind> ParseBreakpointKind(absl::string_view text) {
  if (text == "exec") return v1::BREAKPOINT_KIND_EXEC;
  if (text == "write") return v1::BREAKPOINT_KIND_WRITE;
  if (text == "rw") return v1::BREAKPOINT_KIND_READ_WRITE;
  if (text == "sw") return v1::BREAKPOINT_KIND_SOFTWARE;
  return absl::InvalidArgumentError(
      absl::StrCat("'", text, "' is not a breakpoint kind (exec, write, rw or sw)"));
}

std::string CheckGuestAddress(const std::string& text) {
  absl::StatusOr<uint64_t> address = ParseGuestAddress(text);
  return address.ok() ? std::string() : std::string(address.status().message());
}

std::string CheckBreakpointKind(const std::string& text) {
  absl::StatusOr<v1::BreakpointKind> kind = ParseBreakpointKind(text);
  return kind.ok() ? std::string() : std::string(kind.status().message());
}

}  // namespace pvm::ctl
