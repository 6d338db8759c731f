// Values on the `pvmctl debug` command line that CLI11 does not parse the way a
// person writing guest addresses expects.
#ifndef PVMD_CLIENT_DEBUG_ARGS_H_
#define PVMD_CLIENT_DEBUG_ARGS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pvm/v1/debug.pb.h"

namespace pvm::ctl {

// "0x100123" (hex, either case of x and digits) or "1049891" (decimal), the full
// 64-bit range; no sign, no spaces, no suffix. INVALID_ARGUMENT says what was wrong.
absl::StatusOr<uint64_t> ParseGuestAddress(absl::string_view text);

// The words of `--kind`: "exec", "write", "rw", "sw".
absl::StatusOr<v1::BreakpointKind> ParseBreakpointKind(absl::string_view text);

// CLI11 validators: empty when valid, otherwise the message.
std::string CheckGuestAddress(const std::string& text);
std::string CheckBreakpointKind(const std::string& text);

}  // namespace pvm::ctl

#endif  // PVMD_CLIENT_DEBUG_ARGS_H_
