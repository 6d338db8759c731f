// A scripted GdbTarget for the gdb stub's session tests: N vCPUs with their
// kvm_regs/kvm_sregs, a small guest memory map, a real debug::EventLog, breakpoints
// with ids (four debug-register slots, like the real engine), and a script of what
// each Continue/Step does. Every call is recorded; waits use a mutex and a condition
// variable (no sleeps), so a test can block until the session got somewhere.
//
// Thread-safe: the session calls it from its thread while the test inspects and
// drives it from another.
#ifndef PVMD_TESTS_UNIT_GDB_FAKE_GDB_TARGET_H_
#define PVMD_TESTS_UNIT_GDB_FAKE_GDB_TARGET_H_

#include <linux/kvm.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/debug/debug_event.h"
#include "daemon/debug/debug_types.h"
#include "daemon/debug/event_log.h"
#include "daemon/gdb/gdb_target.h"

namespace pvm::gdb::testing {

// What one Continue (or Step) does once it resumed the vCPUs.
struct Resumption {
  enum class Kind {
    kStop,      // append `events` (stopped=true) and stop every vCPU at once
    kRun,       // stay running until Interrupt() (or StopNow from the test)
    kDisable,   // someone else disables debugging right after the resume
    kShutDown,  // the VM shuts down while running
  };
  Kind kind = Kind::kRun;
  std::vector<debug::DebugEvent> events;
};

class FakeGdbTarget final : public GdbTarget {
 public:
  static constexpr int kHardwareSlots = 4;

  explicit FakeGdbTarget(uint32_t vcpus = 1);

  // --- Setup (before the session starts, or from the test thread later) ---
  // Debugging already on (e.g. a gRPC client), in `mode`, with every vCPU stopped or
  // running.
  void SetInitialState(bool enabled, debug::StopMode mode, bool stopped);
  // `bytes` become guest memory at `address` (any vCPU sees the same map).
  void MapMemory(uint64_t address, std::vector<std::byte> bytes);
  // AddBreakpoint at `address` fails with `status` (e.g. INVALID_ARGUMENT).
  void FailBreakpointAt(uint64_t address, absl::Status status);
  void SetRegs(uint32_t vcpu, const kvm_regs& regs);
  void SetSregs(uint32_t vcpu, const kvm_sregs& sregs);
  // Scripts for the next Continue/Step calls, in order. An empty Continue script
  // means kRun; an empty Step script means one single-step event on the stepped vCPU.
  void ScriptContinue(Resumption resumption);
  void ScriptStep(Resumption resumption);

  // --- Driving, from the test thread ---
  // Appends `events` (stopped=true) and stops every vCPU, as a breakpoint hit would.
  void StopNow(std::vector<debug::DebugEvent> events);
  // A gRPC client turns debugging off (breakpoints gone, the vCPUs resume).
  void DisableExternally();
  void ShutDown();

  // --- Inspection ---
  // "SetEnabled(1)", "Continue()", "Step(1)", "Interrupt()", "AddBreakpoint(sw,0x1000,1)",
  // "RemoveBreakpoint(3)", "GetRegs(0)", "ReadMemory(0x1000,4,0)", "WaitForAllStopped()",
  // "State()", ...: every call, in order, with its arguments.
  std::vector<std::string> calls() const;
  // Calls whose record starts with `prefix`.
  int CountCalls(std::string_view prefix) const;
  // Blocks until at least `count` calls start with `prefix`; false at the deadline.
  bool WaitForCalls(std::string_view prefix, int count, std::chrono::milliseconds timeout) const;
  // Engine breakpoints now present, by id.
  std::map<uint32_t, debug::BreakpointSpec> breakpoints() const;
  // Every spec AddBreakpoint accepted, in order (removed ones included).
  std::vector<debug::BreakpointSpec> added_specs() const;
  std::vector<uint32_t> removed_ids() const;
  bool enabled() const;
  bool all_stopped() const;
  kvm_regs regs(uint32_t vcpu) const;
  std::vector<std::byte> memory(uint64_t address, size_t length) const;

  // --- GdbTarget ---
  debug::DebugStateInfo State() const override;
  absl::Status SetEnabled(bool enabled) override;
  absl::StatusOr<debug::BreakpointInfo> AddBreakpoint(const debug::BreakpointSpec& spec) override;
  absl::Status RemoveBreakpoint(uint32_t id) override;
  absl::Status Continue() override;
  absl::StatusOr<debug::StepResult> Step(uint32_t vcpu, Deadline deadline) override;
  absl::Status Interrupt() override;
  WaitResult WaitForAllStopped(Deadline deadline) const override;
  absl::StatusOr<kvm_regs> GetRegs(uint32_t vcpu) override;
  absl::StatusOr<kvm_sregs> GetSregs(uint32_t vcpu) override;
  absl::StatusOr<kvm_regs> SetRegs(uint32_t vcpu, const debug::RegisterChange& change) override;
  absl::StatusOr<std::vector<std::byte>> ReadMemory(uint64_t address, size_t length,
                                                    uint32_t vcpu) override;
  absl::Status WriteMemory(uint64_t address, const std::vector<std::byte>& data,
                           uint32_t vcpu) override;
  std::shared_ptr<debug::EventLog> events() const override;

 private:
  struct Vcpu {
    kvm_regs regs{};
    kvm_sregs sregs{};
    bool stopped = false;
    std::string reason;
  };

  void RecordLocked(std::string call) const;
  void ApplyLocked(const Resumption& resumption);
  void StopAllLocked(const std::vector<debug::DebugEvent>& events, const char* reason);
  void DisableLocked();
  absl::Status CheckVcpuLocked(uint32_t vcpu) const;
  // The map region holding [address, address + length), or end().
  std::map<uint64_t, std::vector<std::byte>>::iterator RegionLocked(uint64_t address,
                                                                    size_t length);

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;  // any change of state or of the call log
  std::shared_ptr<debug::EventLog> log_ = std::make_shared<debug::EventLog>(256);
  bool enabled_ = false;
  debug::StopMode mode_ = debug::StopMode::kAllStop;
  bool shut_down_ = false;
  uint64_t disables_ = 0;  // times debugging was turned off, as the engine's clears_
  std::vector<Vcpu> vcpus_;
  std::map<uint64_t, std::vector<std::byte>> memory_;
  std::map<uint64_t, absl::Status> failures_;
  std::map<uint32_t, debug::BreakpointSpec> breakpoints_;
  uint32_t next_id_ = 1;
  std::vector<debug::BreakpointSpec> added_;
  std::vector<uint32_t> removed_;
  std::deque<Resumption> continue_script_;
  std::deque<Resumption> step_script_;
  mutable std::vector<std::string> calls_;
};

// A stopping event for the scripts: `kind` on `vcpu` at `rip`, from breakpoint `id`.
debug::DebugEvent MakeEvent(debug::EventKind kind, uint32_t vcpu, uint64_t rip,
                            uint32_t breakpoint_id = 0);

}  // namespace pvm::gdb::testing

#endif  // PVMD_TESTS_UNIT_GDB_FAKE_GDB_TARGET_H_
