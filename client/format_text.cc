#include "client/format_text.h"

#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "client/enum_names.h"
#include "client/text_layout.h"

namespace pvm::ctl {
namespace {

std::string YesNo(bool value) { return value ? "yes" : "no"; }

std::string Hex(uint64_t value) { return absl::StrCat("0x", absl::Hex(value)); }

std::string Mebibytes(uint64_t mib) { return absl::StrCat(mib, " MiB"); }

// UTC, so the same VM reads the same on every machine and in every test.
std::string UnixMillisText(int64_t unix_ms) {
  if (unix_ms == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixMillis(unix_ms),
                          absl::UTCTimeZone());
}

std::string OrDash(const std::string& value) { return value.empty() ? "-" : value; }

}  // namespace

std::string HostInfoText(const v1::HostInfo& info) {
  const v1::ModuleInfo& module = info.module();
  const v1::KvmCapabilities& kvm = info.kvm();
  KeyValueRows rows = {
      {"daemon version", OrDash(info.daemon_version())},
      {"kernel release", OrDash(info.kernel_release())},
      {"module", absl::StrCat(OrDash(module.name()), " (", ModuleStateName(module.state()), ")")},
  };
  rows.emplace_back("module detail", OrDash(module.detail()));
  // One line: a row per parameter would widen the key column for every line.
  rows.emplace_back("module parameters",
                    OrDash(absl::StrJoin(module.parameters(), " ",
                                         [](std::string* text, const v1::ModuleParameter& p) {
                                           absl::StrAppend(text, p.name(), "=", p.value());
                                         })));
  rows.insert(rows.end(),
              {
                  {"kvm api version", absl::StrCat(kvm.api_version())},
                  {"max vcpus", absl::StrCat(kvm.max_vcpus())},
                  {"guest debug", YesNo(kvm.guest_debug())},
                  {"guest debug2 flags", Hex(static_cast<uint32_t>(kvm.guest_debug2()))},
                  {"debug registers", absl::StrCat(kvm.num_debug_registers())},
                  {"read-only memory", YesNo(kvm.readonly_mem())},
                  {"sync regs", Hex(static_cast<uint32_t>(kvm.sync_regs()))},
              });
  // The daemon's own words, a row each: what its start-up probe found the module to
  // deliver for guest debugging, or why the probe failed ("-": a daemon without it).
  const v1::DebugCapabilities& debug = info.debug_capabilities();
  if (!debug.probed() || debug.summary().empty()) {
    rows.emplace_back("debug probe", OrDash(debug.error()));
  }
  for (const std::string& line : debug.summary()) {
    rows.emplace_back("debug probe", line);
  }
  return KeyValueLines(rows);
}

std::string VmText(const v1::Vm& vm) {
  KeyValueRows rows = {
      {"name", vm.name()},
      {"state", std::string(VmStateName(vm.state()))},
  };
  if (!vm.failure().empty()) rows.emplace_back("failure", vm.failure());
  rows.insert(rows.end(), {
                              {"vcpus", absl::StrCat(vm.vcpus())},
                              {"memory", Mebibytes(vm.memory_mib())},
                              {"image", OrDash(vm.image())},
                              {"entry point", Hex(vm.entry_point())},
                              {"console bytes", absl::StrCat(vm.console_bytes())},
                              {"created", UnixMillisText(vm.created_unix_ms())},
                          });
  for (const v1::VcpuInfo& vcpu : vm.vcpu_info()) {
    rows.emplace_back(
        absl::StrCat("vcpu ", vcpu.id()),
        absl::StrCat(OrDash(vcpu.state()), ", ", vcpu.exits(), " exits, rip ", Hex(vcpu.rip())));
  }
  return KeyValueLines(rows);
}

std::string VmListText(const v1::ListVmsResponse& list) {
  if (list.vms().empty()) return "no VMs\n";
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "STATE", "VCPUS", "MEMORY", "IMAGE", "CREATED"}};
  for (const v1::Vm& vm : list.vms()) {
    rows.push_back({vm.name(), std::string(VmStateName(vm.state())), absl::StrCat(vm.vcpus()),
                    Mebibytes(vm.memory_mib()), OrDash(vm.image()),
                    UnixMillisText(vm.created_unix_ms())});
  }
  return AlignedTable(rows);
}

std::string VmDeletedText(absl::string_view name) { return absl::StrCat("deleted ", name, "\n"); }

}  // namespace pvm::ctl
