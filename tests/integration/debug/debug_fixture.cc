#include "tests/integration/debug/debug_fixture.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "daemon/debug_config.h"
#include "daemon/host/debug_probe.h"
#include "tests/integration/guest_harness.h"

namespace pvm::testing {

void DebugTest::CreateDebugged(const std::string& guest, uint32_t vcpus, debug::StopMode mode,
                               debug::DebugConfig config) {
  vm_ = CreateGuest(guest, guest, vcpus);
  ASSERT_NE(vm_, nullptr);
  debugger_ = &debug::DebuggerFor(*vm_, config);
  ASSERT_TRUE(debugger_->SetEnabled(true, mode).ok());
}

const debug::DebugConfig& DebugTest::HostConfig() {
  static const debug::DebugConfig config = [this] {
    absl::StatusOr<host::DebugCapabilities> probe = host::ProbeGuestDebug(*kvm_);
    EXPECT_TRUE(probe.ok()) << probe.status();
    return DebugConfigFromProbe(probe);
  }();
  return config;
}

uint64_t DebugTest::Symbol(const std::string& name) const {
  std::optional<vmm::GuestSymbol> symbol = vm_->image().FindSymbol(name);
  EXPECT_TRUE(symbol.has_value()) << "no symbol " << name;
  return symbol ? symbol->address : 0;
}

debug::BreakpointInfo DebugTest::Add(debug::BreakpointKind kind, uint64_t address, uint32_t length,
                                     bool trace) {
  absl::StatusOr<debug::BreakpointInfo> bp =
      debugger_->AddBreakpoint({kind, address, length, trace}, "");
  EXPECT_TRUE(bp.ok()) << bp.status();
  return bp.ok() ? *bp : debug::BreakpointInfo{};
}

std::vector<debug::DebugEvent> DebugTest::EventsUpTo(uint64_t last) {
  std::shared_ptr<debug::EventLog> log = debugger_->events();
  std::vector<debug::DebugEvent> events;
  uint64_t cursor = 1;
  std::array<debug::DebugEvent, 64> buffer;
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (cursor <= last) {
    if (!log->WaitForEvents(cursor, deadline)) {
      ADD_FAILURE() << "timed out waiting for event " << cursor << " (of " << last << ")";
      break;
    }
    debug::EventLog::Batch batch = log->Read(&cursor, buffer);
    EXPECT_EQ(batch.lost_count, 0u) << "events lost before " << cursor;
    for (size_t i = 0; i < batch.count; ++i) {
      events.push_back(buffer[i]);
    }
    if (batch.closed) {
      break;
    }
  }
  events.resize(std::min<size_t>(events.size(), last));
  return events;
}

debug::DebugEvent DebugTest::Event(uint64_t sequence) {
  std::vector<debug::DebugEvent> events = EventsUpTo(sequence);
  EXPECT_EQ(events.size(), sequence);
  return events.size() == sequence ? events.back() : debug::DebugEvent{};
}

void DebugTest::WaitStopped(const std::vector<uint32_t>& ids) {
  // The stop record is set before the vCPU parks; parking is what makes the state
  // readable, so wait for both.
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  for (uint32_t id : ids) {
    while (true) {
      debug::DebugStateInfo state = debugger_->State();
      if (state.vcpus.at(id).stopped) {
        break;
      }
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "vCPU " << id << " never stopped";
      std::this_thread::yield();
    }
    vm_->vcpus().at(id)->WaitUntilParked();
  }
}

uint64_t DebugTest::Rip(uint32_t vcpu) {
  absl::StatusOr<kvm_regs> regs = debugger_->GetRegs(vcpu);
  EXPECT_TRUE(regs.ok()) << regs.status();
  return regs.ok() ? regs->rip : 0;
}

uint64_t DebugTest::ReadU64(const std::string& symbol, uint64_t index) {
  absl::StatusOr<uint64_t> value = ReadGuestU64(*vm_, symbol, index);
  EXPECT_TRUE(value.ok()) << value.status();
  return value.ok() ? *value : 0;
}

}  // namespace pvm::testing
