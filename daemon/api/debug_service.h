// pvm.v1.DebugService: thin translation onto each VM's debugger (daemon/debug).
#ifndef PVMD_DAEMON_API_DEBUG_SERVICE_H_
#define PVMD_DAEMON_API_DEBUG_SERVICE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "daemon/debug/address_policy.h"
#include "daemon/debug/vm_debugger.h"
#include "daemon/vmm/vm_registry.h"
#include "pvm/v1/debug.grpc.pb.h"

namespace pvm::api {

class DebugServiceImpl final : public pvm::v1::DebugService::Service {
 public:
  // `policy`: the breakpoint addresses this host's module accepts, for every VM.
  DebugServiceImpl(vmm::VmRegistry& registry, debug::DebugConfig config)
      : registry_(registry), config_(config) {}

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
};

}  // namespace pvm::api

#endif  // PVMD_DAEMON_API_DEBUG_SERVICE_H_
