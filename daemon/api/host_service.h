// pvm.v1.HostService: what pvmd found on its host.
#ifndef PVMD_DAEMON_API_HOST_SERVICE_H_
#define PVMD_DAEMON_API_HOST_SERVICE_H_

#include "absl/status/statusor.h"
#include "daemon/access/authorizer.h"
#include "daemon/host/debug_probe.h"
#include "daemon/host/module_status.h"
#include "daemon/vmm/kvm.h"
#include "pvm/v1/host.grpc.pb.h"

namespace pvm::api {

class HostServiceImpl final : public pvm::v1::HostService::Service {
 public:
  // All are read once at start-up; the module cannot change under a running pvmd
  // without it noticing on its own /dev/kvm. A failed guest-debug probe is reported
  // as such.
  HostServiceImpl(const vmm::Kvm& kvm, host::ModuleStatus module,
                  absl::StatusOr<host::DebugCapabilities> debug_capabilities =
                      absl::UnavailableError("the guest-debug probe did not run"));

  grpc::Status GetHostInfo(grpc::ServerContext* context, const pvm::v1::GetHostInfoRequest* request,
                           pvm::v1::HostInfo* response) override;

  // Every call is checked against `authorizer` (outlives this) from here on; set
  // before the server starts.
  void EnforceAccess(const access::Authorizer* authorizer) { access_.Enforce(authorizer); }

 private:
  const vmm::Kvm& kvm_;
  const host::ModuleStatus module_;
  const absl::StatusOr<host::DebugCapabilities> debug_capabilities_;
  access::CallGuard access_{pvm::v1::HostService::service_full_name()};
};

}  // namespace pvm::api

#endif  // PVMD_DAEMON_API_HOST_SERVICE_H_
