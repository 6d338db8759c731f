// pvm.v1.DebugService: thin translation onto each VM's debugger (daemon/debug).
#ifndef PVMD_DAEMON_API_DEBUG_SERVICE_H_
#define PVMD_DAEMON_API_DEBUG_SERVICE_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "daemon/access/authorizer.h"
#include "daemon/debug/address_policy.h"
#include "daemon/debug/vm_debugger.h"
#include "daemon/gdb/gdb_servers.h"
#include "daemon/vmm/vm_registry.h"
#include "pvm/v1/debug.grpc.pb.h"

namespace pvm::api {

// Bounds the concurrent StreamEvents calls of each VM (limits.subscribers_per_vm):
// every follower holds a server thread for as long as it follows, so without a
// bound one client could take them all.
class SubscriberLimit {
 public:
  explicit SubscriberLimit(uint32_t per_vm) : per_vm_(per_vm) {}

  // Held for the life of one stream; gives its place back when destroyed.
  class Slot {
   public:
    Slot(SubscriberLimit* limit, std::string vm) : limit_(limit), vm_(std::move(vm)) {}
    Slot(Slot&& other) noexcept
        : limit_(std::exchange(other.limit_, nullptr)), vm_(std::move(other.vm_)) {}
    Slot& operator=(Slot&&) = delete;
    Slot(const Slot&) = delete;
    ~Slot();

   private:
    SubscriberLimit* limit_;
    std::string vm_;
  };

  // RESOURCE_EXHAUSTED when `vm` has per_vm streams already.
  absl::StatusOr<Slot> Acquire(const std::string& vm);
  uint32_t Active(const std::string& vm) const;
  uint32_t per_vm() const { return per_vm_; }
  // Until `vm` has exactly `count` streams, or the deadline (false). For tests, which
  // cannot see when the server noticed that a client went away.
  bool WaitForActive(const std::string& vm, uint32_t count,
                     std::chrono::steady_clock::time_point deadline) const;

 private:
  void Release(const std::string& vm);

  const uint32_t per_vm_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::map<std::string, uint32_t> active_;  // VM name -> streams; no entry when none
};

class DebugServiceImpl final : public pvm::v1::DebugService::Service {
 public:
  // `config`: the mechanisms this host's module needs and the event ring size, for
  // every VM; `max_subscribers_per_vm`: concurrent StreamEvents per VM.
  DebugServiceImpl(vmm::VmRegistry& registry, debug::DebugConfig config,
                   uint32_t max_subscribers_per_vm = 64)
      : registry_(registry), config_(config), subscribers_(max_subscribers_per_vm) {}

  grpc::Status SetGuestDebug(grpc::ServerContext* context,
                             const pvm::v1::SetGuestDebugRequest* request,
                             pvm::v1::DebugState* response) override;
  grpc::Status GetDebugState(grpc::ServerContext* context, const pvm::v1::DebugRef* request,
                             pvm::v1::DebugState* response) override;
  grpc::Status AddBreakpoint(grpc::ServerContext* context,
                             const pvm::v1::AddBreakpointRequest* request,
                             pvm::v1::Breakpoint* response) override;
  grpc::Status RemoveBreakpoint(grpc::ServerContext* context,
                                const pvm::v1::RemoveBreakpointRequest* request,
                                pvm::v1::RemoveBreakpointResponse* response) override;
  grpc::Status ListBreakpoints(grpc::ServerContext* context, const pvm::v1::DebugRef* request,
                               pvm::v1::ListBreakpointsResponse* response) override;
  grpc::Status Continue(grpc::ServerContext* context, const pvm::v1::DebugRef* request,
                        pvm::v1::DebugState* response) override;
  grpc::Status Step(grpc::ServerContext* context, const pvm::v1::StepRequest* request,
                    pvm::v1::StepResponse* response) override;
  grpc::Status Interrupt(grpc::ServerContext* context, const pvm::v1::DebugRef* request,
                         pvm::v1::DebugState* response) override;
  grpc::Status GetRegisters(grpc::ServerContext* context,
                            const pvm::v1::GetRegistersRequest* request,
                            pvm::v1::Registers* response) override;
  grpc::Status SetRegisters(grpc::ServerContext* context,
                            const pvm::v1::SetRegistersRequest* request,
                            pvm::v1::Registers* response) override;
  grpc::Status ReadMemory(grpc::ServerContext* context, const pvm::v1::ReadMemoryRequest* request,
                          pvm::v1::MemoryData* response) override;
  grpc::Status WriteMemory(grpc::ServerContext* context, const pvm::v1::WriteMemoryRequest* request,
                           pvm::v1::WriteMemoryResponse* response) override;
  grpc::Status StreamEvents(grpc::ServerContext* context,
                            const pvm::v1::StreamEventsRequest* request,
                            grpc::ServerWriter<pvm::v1::EventBatch>* writer) override;
  grpc::Status StartGdbServer(grpc::ServerContext* context,
                              const pvm::v1::StartGdbServerRequest* request,
                              pvm::v1::GdbServer* response) override;
  grpc::Status StopGdbServer(grpc::ServerContext* context, const pvm::v1::DebugRef* request,
                             pvm::v1::GdbServer* response) override;

  const SubscriberLimit& subscribers() const { return subscribers_; }

  // Every call is checked against `authorizer` (outlives this) from here on; set
  // before the server starts.
  void EnforceAccess(const access::Authorizer* authorizer) { access_.Enforce(authorizer); }
  // gdb stubs may listen beyond loopback (the config's gdb.allow_remote).
  void AllowRemoteGdb(bool allow) { allow_remote_gdb_ = allow; }

 private:
  // The VM keeps its debugger alive: callers hold `vm` while they use `debugger`.
  struct Target {
    std::shared_ptr<vmm::Vm> vm;
    debug::VmDebugger* debugger = nullptr;
  };
  // NOT_FOUND from the registry for an unknown name.
  absl::StatusOr<Target> Find(const std::string& name);
  // The VM's debug state after a change, as every state-changing call answers.
  void StateOf(const Target& target, pvm::v1::DebugState* response) const;

  vmm::VmRegistry& registry_;
  const debug::DebugConfig config_;
  SubscriberLimit subscribers_;
  access::CallGuard access_{pvm::v1::DebugService::service_full_name()};
  bool allow_remote_gdb_ = false;
  // Declared last: destroyed first, so a stub detaches before anything it uses goes.
  gdb::GdbServers gdb_servers_;
};

}  // namespace pvm::api

#endif  // PVMD_DAEMON_API_DEBUG_SERVICE_H_
