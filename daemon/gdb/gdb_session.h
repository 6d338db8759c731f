// One gdb connected to one VM: attaches (all-stop debugging on, the VM stopped),
// answers gdb's requests on the debug engine, resumes and waits for the next stop,
// and on detach, kill or a lost connection leaves the VM as it found it: gdb's
// points removed, the guest running, debugging off again if the stub turned it on.
#ifndef PVMD_DAEMON_GDB_GDB_SESSION_H_
#define PVMD_DAEMON_GDB_GDB_SESSION_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/gdb/gdb_command.h"
#include "daemon/gdb/gdb_points.h"
#include "daemon/gdb/gdb_stop_reply.h"
#include "daemon/gdb/gdb_target.h"
#include "daemon/gdb/rsp_connection.h"

namespace pvm::gdb {

class GdbSession {
 public:
  // `fd`: the client's socket; `stop_fd`: readable when the server stops (both not
  // owned).
  GdbSession(GdbTarget& target, int fd, int stop_fd);

  // Serves until gdb detaches or kills, the connection ends, the server stops, or the
  // VM goes away. FAILED_PRECONDITION when the VM cannot be attached (trace-mode
  // debugging belongs to a gRPC client); the connection is then closed unanswered.
  absl::Status Run();

 private:
  absl::Status Attach();
  void Leave();
  // The reply to one command; nullopt: none (the session ends after k).
  std::optional<std::string> Handle(const Command& command);
  std::string Supported(const QuerySupported& query);
  struct RegisterFile {
    kvm_regs regs;
    kvm_sregs sregs;
  };
  // The general and special registers of gdb's current vCPU (Hg).
  absl::StatusOr<RegisterFile> CurrentRegisters();
  std::string ReadRegisters();
  std::string WriteRegisters(const WriteRegisters& write);
  std::string ReadRegister(const ReadRegister& read);
  std::string WriteRegister(const WriteRegister& write);
  std::string ReadMemory(const ReadMemory& read);
  std::string WriteMemory(const WriteMemory& write);
  std::string ResumeCommand(const Resume& resume);
  std::string VContCommand(const VCont& vcont);
  std::string BreakpointCommand(const Breakpoint& point);
  std::string SetThreadCommand(const SetThread& set);
  std::string ThreadList() const;
  std::string ThreadExtra(int64_t thread);
  std::string Features(const ReadFeatures& read) const;

  // Resumes (one vCPU stepping, or all continuing) and blocks until the VM is all
  // stopped again, passing gdb's Ctrl-C on as an Interrupt. The stop reply.
  std::string ResumeAndWait(std::optional<uint32_t> step_vcpu);
  enum class Waited { kStopped, kGone, kDisabled, kShutDown };
  Waited WaitForStop();
  // The reply for the VM's stop that followed event `since`. Other vCPUs that stopped
  // on their own event in the same all-stop are kept in pending_. A stop without an
  // event (an interrupt) is reported with `signal_without_event`.
  std::string StopReplySince(uint64_t since, uint8_t signal_without_event);
  // A kept stop gdb still wants to hear of, reported instead of resuming (as
  // gdbserver does): without it, a second vCPU's hit in one all-stop would be
  // stepped over unseen by the next continue. Stale ones (gdb deleted the point, or
  // moved the vCPU) are dropped.
  std::optional<std::string> TakePendingStop();

  // gdb's thread id -> vCPU; nullopt for one that does not exist. 0 and -1 name the
  // current vCPU.
  std::optional<uint32_t> VcpuOf(int64_t thread) const;
  uint32_t vcpu_count() const { return vcpu_count_; }

  GdbTarget& target_;
  RspConnection connection_;
  GdbPoints points_;
  StopFeatures features_;
  uint32_t vcpu_count_ = 0;
  uint32_t current_vcpu_ = 0;            // Hg: registers and memory
  std::optional<uint32_t> resume_vcpu_;  // Hc: c/s without vCont; nullopt: current
  std::string last_stop_;                // the answer to '?'
  struct PendingStop {
    debug::DebugEvent event;
    std::optional<GdbPoint> point;
  };
  std::deque<PendingStop> pending_;
  bool enabled_by_stub_ = false;
  bool ended_ = false;  // detached, killed or the VM is gone
};

}  // namespace pvm::gdb

#endif  // PVMD_DAEMON_GDB_GDB_SESSION_H_
