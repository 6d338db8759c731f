// A VM from a built-in guest with its debugger, and waits on its event log.
#ifndef PVMD_TESTS_INTEGRATION_DEBUG_DEBUG_FIXTURE_H_
#define PVMD_TESTS_INTEGRATION_DEBUG_DEBUG_FIXTURE_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "daemon/debug/vm_debugger.h"
#include "daemon/vmm/kvm.h"
#include "daemon/vmm/vm_registry.h"
#include "tests/integration/guest_test.h"

namespace pvm::testing {

class DebugTest : public GuestTest {
 protected:
  // Creates (not starts) a VM of `guest` and enables debugging on it.
  void CreateDebugged(const std::string& guest, uint32_t vcpus = 1,
                      debug::StopMode mode = debug::StopMode::kAllStop,
                      debug::DebugConfig config = {});
  // The mechanisms pvmd would choose on this host: its start-up probe, run once per
  // test process, mapped by pvmd's own DebugConfigFromProbe.
  const debug::DebugConfig& HostConfig();
  uint64_t Symbol(const std::string& name) const;
  debug::BreakpointInfo Add(debug::BreakpointKind kind, uint64_t address, uint32_t length = 1,
                            bool trace = false);
  // Every event up to and including sequence `last`, waiting for them (bounded).
  std::vector<debug::DebugEvent> EventsUpTo(uint64_t last);
  debug::DebugEvent Event(uint64_t sequence);
  // Waits until every vCPU in `ids` is stopped by the debugger.
  void WaitStopped(const std::vector<uint32_t>& ids);
  uint64_t Rip(uint32_t vcpu);
  uint64_t ReadU64(const std::string& symbol, uint64_t index = 0);

  std::shared_ptr<vmm::Vm> vm_;
  debug::VmDebugger* debugger_ = nullptr;
};

}  // namespace pvm::testing

#endif  // PVMD_TESTS_INTEGRATION_DEBUG_DEBUG_FIXTURE_H_
