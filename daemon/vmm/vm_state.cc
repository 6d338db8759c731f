#include "daemon/vmm/vm_state.h"

#include "absl/strings/str_cat.h"

namespace pvm::vmm {

const char* VmStateName(VmState state) {
  switch (state) {
    case VmState::kCreated:
      return "created";
    case VmState::kRunning:
      return "running";
    case VmState::kPaused:
      return "paused";
    case VmState::kStopped:
      return "stopped";
    case VmState::kFailed:
      return "failed";
  }
  return "unknown";
}

absl::Status CheckRequest(VmState state, VmRequest request) {
  struct Rule {
    VmState required;
    const char* verb;
    const char* done;
  };
  const Rule rule = [request]() -> Rule {
    switch (request) {
      case VmRequest::kStart:
        return {VmState::kCreated, "start", "started"};
      case VmRequest::kPause:
        return {VmState::kRunning, "pause", "paused"};
      case VmRequest::kResume:
        return {VmState::kPaused, "resume", "resumed"};
    }
    return {VmState::kCreated, "change", "changed"};
  }();
  if (state == rule.required) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(
      absl::StrCat("cannot ", rule.verb, " a VM that is ", VmStateName(state), ": only a ",
                   VmStateName(rule.required), " VM can be ", rule.done));
}

VmState StateAfter(VmRequest request) {
  switch (request) {
    case VmRequest::kStart:
    case VmRequest::kResume:
      return VmState::kRunning;
    case VmRequest::kPause:
      return VmState::kPaused;
  }
  return VmState::kFailed;
}

}  // namespace pvm::vmm
