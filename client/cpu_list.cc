#include "client/cpu_list.h"

#include <algorithm>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace pvm::ctl {
namespace {

absl::StatusOr<uint32_t> ParseCpu(absl::string_view text, absl::string_view list) {
  uint32_t cpu = 0;
  // SimpleAtoi accepts a sign and surrounding spaces; a CPU number is digits only.
  const bool digits_only = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
  if (!digits_only || !absl::SimpleAtoi(text, &cpu)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid CPU list '", list, "': '", text, "' is not a CPU number"));
  }
  if (cpu > kMaxCpu) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid CPU list '", list, "': CPU ", cpu, " is above ", kMaxCpu));
  }
  return cpu;
}

}  // namespace

absl::StatusOr<std::vector<uint32_t>> ParseCpuList(absl::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("invalid CPU list: it is empty");
  std::vector<uint32_t> cpus;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    const std::vector<absl::string_view> bounds = absl::StrSplit(item, absl::MaxSplits('-', 1));
    absl::StatusOr<uint32_t> first = ParseCpu(bounds[0], text);
    if (!first.ok()) return first.status();
    uint32_t last = *first;
    if (bounds.size() == 2) {
      absl::StatusOr<uint32_t> range_end = ParseCpu(bounds[1], text);
      if (!range_end.ok()) return range_end.status();
      if (*range_end < *first) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid CPU list '", text, "': range ", item, " runs backwards"));
      }
      last = *range_end;
    }
    for (uint32_t cpu = *first; cpu <= last; ++cpu) cpus.push_back(cpu);
  }
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  return cpus;
}

}  // namespace pvm::ctl
