// Runs built-in guests on the real /dev/kvm for integration tests.
#ifndef PVMD_TESTS_INTEGRATION_GUEST_HARNESS_H_
#define PVMD_TESTS_INTEGRATION_GUEST_HARNESS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/vmm/kvm.h"
#include "daemon/vmm/vm.h"
#include "daemon/vmm/vm_registry.h"

namespace pvm::testing {

// Generous: these bound a wait for something that normally takes milliseconds, and
// only matter when the thing never happens.
inline constexpr auto kPatience = std::chrono::seconds(60);

std::string GuestDir();

// Waits until the console holds `needle` (or the VM ends or time runs out);
// returns everything written so far.
std::string WaitForConsole(vmm::Vm& vm, const std::string& needle);

// Polls `pred` until it holds; a fatal test failure naming `what` after kPatience.
void WaitUntil(const std::function<bool()>& pred, const std::string& what);

// Waits for the VM to reach `state`; returns the state it ended in.
vmm::VmState WaitForVmState(vmm::Vm& vm, vmm::VmState state);

// The value of a uint64 guest global, found through the image's symbol table.
absl::StatusOr<uint64_t> ReadGuestU64(vmm::Vm& vm, const std::string& symbol, uint64_t index = 0);

// Open fds and threads of this process, for leak checks.
int CountOpenFds();
int CountThreads();
// Threads whose name (comm) starts with prefix; vCPU threads are "vcpuN".
int CountThreadsNamed(const std::string& prefix);
// "Cpus_allowed_list" of each such thread, e.g. {"0", "0-1"}.
std::vector<std::string> CpusAllowedOfThreadsNamed(const std::string& prefix);

}  // namespace pvm::testing

#endif  // PVMD_TESTS_INTEGRATION_GUEST_HARNESS_H_
