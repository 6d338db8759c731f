// Text output of pvmctl: for people, not for scripts (they use -o json).
#ifndef PVMD_CLIENT_FORMAT_TEXT_H_
#define PVMD_CLIENT_FORMAT_TEXT_H_

#include <string>

#include "absl/strings/string_view.h"
#include "pvm/v1/host.pb.h"
#include "pvm/v1/vm.pb.h"

namespace pvm::ctl {

// "key: value" lines.
std::string HostInfoText(const v1::HostInfo& info);
std::string VmText(const v1::Vm& vm);

// A table with one row per VM, or "no VMs".
std::string VmListText(const v1::ListVmsResponse& list);

std::string VmDeletedText(absl::string_view name);

}  // namespace pvm::ctl

#endif  // PVMD_CLIENT_FORMAT_TEXT_H_
