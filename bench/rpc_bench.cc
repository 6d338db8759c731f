// Unary RPC round trip over the unix socket, through the real services.
#include <benchmark/benchmark.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <memory>

#include "daemon/api/host_service.h"
#include "daemon/api/vm_service.h"
#include "daemon/host/module_status.h"
#include "daemon/vmm/kvm.h"
#include "daemon/vmm/vm_registry.h"
#include "pvm/v1/host.grpc.pb.h"
#include "pvm/v1/vm.grpc.pb.h"

namespace pvm {
namespace {

struct InProcessDaemon {
  InProcessDaemon()
      : kvm(*vmm::Kvm::Open()),
        registry(kvm, vmm::ImageCatalog(PVM_GUEST_BUILD_DIR), vmm::VmLimits{}),
        host_service(kvm, host::DetectModule("kvm_pvm")),
        vm_service(registry),
        socket("/tmp/pvm-rpc-bench-" + std::to_string(::getpid()) + ".sock") {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + socket, grpc::InsecureServerCredentials());
    builder.RegisterService(&host_service);
    builder.RegisterService(&vm_service);
    server = builder.BuildAndStart();
    channel = grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials());
    vmm::VmRequestSpec spec;
    spec.name = "bench-vm";
    spec.image = "builtin:hello";
    (void)registry.Create(spec);
  }
  ~InProcessDaemon() {
    server->Shutdown();
    ::unlink(socket.c_str());
  }

  vmm::Kvm kvm;
  vmm::VmRegistry registry;
  api::HostServiceImpl host_service;
  api::VmServiceImpl vm_service;
  std::string socket;
  std::unique_ptr<grpc::Server> server;
  std::shared_ptr<grpc::Channel> channel;
};

InProcessDaemon& Daemon() {
  static InProcessDaemon daemon;
  return daemon;
}

void BM_GetHostInfo(benchmark::State& state) {
  auto stub = pvm::v1::HostService::NewStub(Daemon().channel);
  for (auto _ : state) {
    grpc::ClientContext context;
    pvm::v1::HostInfo info;
    if (!stub->GetHostInfo(&context, {}, &info).ok()) {
      state.SkipWithError("GetHostInfo failed");
      return;
    }
  }
}
BENCHMARK(BM_GetHostInfo)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_GetVm(benchmark::State& state) {
  auto stub = pvm::v1::VmService::NewStub(Daemon().channel);
  pvm::v1::GetVmRequest request;
  request.set_name("bench-vm");
  for (auto _ : state) {
    grpc::ClientContext context;
    pvm::v1::Vm vm;
    if (!stub->GetVm(&context, request, &vm).ok()) {
      state.SkipWithError("GetVm failed");
      return;
    }
  }
}
BENCHMARK(BM_GetVm)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
}  // namespace pvm

BENCHMARK_MAIN();
