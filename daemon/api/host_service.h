// pvm.v1.HostService: what pvmd found on its host.
#ifndef PVMD_DAEMON_API_HOST_SERVICE_H_
#define PVMD_DAEMON_API_HOST_SERVICE_H_

#include "daemon/host/module_status.h"
#include "daemon/vmm/kvm.h"
#include "pvm/v1/host.grpc.pb.h"

namespace pvm::api {

class HostServiceImpl final : public pvm::v1::HostService::Service {
 public:
  // Both are read once at start-up; the module cannot change under a running pvmd
  // without it noticing on its own /dev/kvm.
  HostServiceImpl(const vmm::Kvm& kvm, host::ModuleStatus module);

  grpc::Status GetHostInfo(grpc::ServerContext* context, const pvm::v1::GetHostInfoRequest* request,
                           pvm::v1::HostInfo* response) override;

 private:
  const vmm::Kvm& kvm_;
  const host::ModuleStatus module_;
};

}  // namespace pvm::api

#endif  // PVMD_DAEMON_API_HOST_SERVICE_H_
