// pvm.v1.VmService: thin translation onto the VM registry.
#ifndef PVMD_DAEMON_API_VM_SERVICE_H_
#define PVMD_DAEMON_API_VM_SERVICE_H_

#include "daemon/access/authorizer.h"
#include "daemon/vmm/vm_registry.h"
#include "pvm/v1/vm.grpc.pb.h"

namespace pvm::api {

class VmServiceImpl final : public pvm::v1::VmService::Service {
 public:
  explicit VmServiceImpl(vmm::VmRegistry& registry) : registry_(registry) {}

  grpc::Status CreateVm(grpc::ServerContext* context, const pvm::v1::CreateVmRequest* request,
                        pvm::v1::Vm* response) override;
  grpc::Status GetVm(grpc::ServerContext* context, const pvm::v1::GetVmRequest* request,
                     pvm::v1::Vm* response) override;
  grpc::Status ListVms(grpc::ServerContext* context, const pvm::v1::ListVmsRequest* request,
                       pvm::v1::ListVmsResponse* response) override;
  grpc::Status StartVm(grpc::ServerContext* context, const pvm::v1::VmRef* request,
                       pvm::v1::Vm* response) override;
  grpc::Status PauseVm(grpc::ServerContext* context, const pvm::v1::VmRef* request,
                       pvm::v1::Vm* response) override;
  grpc::Status ResumeVm(grpc::ServerContext* context, const pvm::v1::VmRef* request,
                        pvm::v1::Vm* response) override;
  grpc::Status DeleteVm(grpc::ServerContext* context, const pvm::v1::VmRef* request,
                        pvm::v1::DeleteVmResponse* response) override;
  grpc::Status StreamConsole(grpc::ServerContext* context,
                             const pvm::v1::StreamConsoleRequest* request,
                             grpc::ServerWriter<pvm::v1::ConsoleChunk>* writer) override;

  // Every call is checked against `authorizer` (outlives this) from here on; set
  // before the server starts.
  void EnforceAccess(const access::Authorizer* authorizer) { access_.Enforce(authorizer); }

 private:
  vmm::VmRegistry& registry_;
  access::CallGuard access_{pvm::v1::VmService::service_full_name()};
};

}  // namespace pvm::api

#endif  // PVMD_DAEMON_API_VM_SERVICE_H_
