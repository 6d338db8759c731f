// Host CPU lists as people write them for taskset and cpusets: "0-3,6".
#ifndef PVMD_CLIENT_CPU_LIST_H_
#define PVMD_CLIENT_CPU_LIST_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pvm::ctl {

// Above any kernel's NR_CPUS; it keeps "0-4000000000" from building a huge list.
inline constexpr uint32_t kMaxCpu = 8191;

// Comma-separated CPUs and inclusive ranges A-B, without spaces. Returns the CPUs
// sorted and without duplicates, or INVALID_ARGUMENT saying what is wrong.
absl::StatusOr<std::vector<uint32_t>> ParseCpuList(absl::string_view text);

}  // namespace pvm::ctl

#endif  // PVMD_CLIENT_CPU_LIST_H_
