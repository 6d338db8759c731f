#include "daemon/api/vm_proto.h"

namespace pvm::api {
namespace {

pvm::v1::VmState ToProto(vmm::VmState state) {
  switch (state) {
    case vmm::VmState::kCreated:
      return pvm::v1::VM_STATE_CREATED;
    case vmm::VmState::kRunning:
      return pvm::v1::VM_STATE_RUNNING;
    case vmm::VmState::kPaused:
      return pvm::v1::VM_STATE_PAUSED;
    case vmm::VmState::kStopped:
      return pvm::v1::VM_STATE_STOPPED;
    case vmm::VmState::kFailed:
      return pvm::v1::VM_STATE_FAILED;
  }
  return pvm::v1::VM_STATE_UNSPECIFIED;
}

}  // namespace

void ToProto(const vmm::VmSnapshot& snapshot, pvm::v1::Vm* out) {
  out->set_name(snapshot.name);
  out->set_state(ToProto(snapshot.state));
  out->set_vcpus(snapshot.vcpus);
  out->set_memory_mib(snapshot.memory_bytes >> 20);
  out->set_image(snapshot.image_label);
  out->set_entry_point(snapshot.entry);
  out->set_failure(snapshot.failure);
  out->set_console_bytes(snapshot.console_bytes);
  out->set_created_unix_ms(
      std::chrono::duration_cast<std::chrono::milliseconds>(snapshot.created_at.time_since_epoch())
          .count());
  for (const vmm::VcpuSnapshot& vcpu : snapshot.vcpu_snapshots) {
    pvm::v1::VcpuInfo* info = out->add_vcpu_info();
    info->set_id(vcpu.id);
    info->set_state(vmm::VcpuStateName(vcpu.state));
    info->set_exits(vcpu.exits);
    info->set_rip(vcpu.rip);
  }
}

}  // namespace pvm::api
