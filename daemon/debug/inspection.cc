// Inspection: registers of stopped vCPUs, and guest memory by virtual or physical
// address with the INT3 patches hidden.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "daemon/debug/guest_range.h"
#include "daemon/debug/vm_debugger_impl.h"

namespace pvm::debug {

template <typename T>
absl::StatusOr<T> VmDebugger::Impl::ReadStoppedVcpu(uint32_t vcpu,
                                                    absl::StatusOr<T> (vmm::VcpuFd::*read)()
                                                        const) {
  std::lock_guard control(control_mu_);
  if (absl::Status s = CheckEnabled(); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckVcpuStopped(vcpu); !s.ok()) {
    return s;
  }
  absl::StatusOr<T> value;
  (void)vm_.vcpus()[vcpu]->WithParked([&](vmm::VcpuFd& fd) {
    value = (fd.*read)();
    return value.status();
  });
  return value;
}

absl::StatusOr<kvm_regs> VmDebugger::Impl::GetRegs(uint32_t vcpu) {
  return ReadStoppedVcpu(vcpu, &vmm::VcpuFd::GetRegs);
}

absl::StatusOr<kvm_sregs> VmDebugger::Impl::GetSregs(uint32_t vcpu) {
  return ReadStoppedVcpu(vcpu, &vmm::VcpuFd::GetSregs);
}

absl::StatusOr<kvm_debugregs> VmDebugger::Impl::GetDebugRegs(uint32_t vcpu) {
  return ReadStoppedVcpu(vcpu, &vmm::VcpuFd::GetDebugRegs);
}

absl::StatusOr<kvm_regs> VmDebugger::Impl::SetRegs(uint32_t vcpu, const RegisterChange& change) {
  std::lock_guard control(control_mu_);
  if (absl::Status s = CheckEnabled(); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckVcpuStopped(vcpu); !s.ok()) {
    return s;
  }
  absl::StatusOr<kvm_regs> regs;
  (void)vm_.vcpus()[vcpu]->WithParked([&](vmm::VcpuFd& fd) -> absl::Status {
    regs = fd.GetRegs();
    if (!regs.ok()) {
      return regs.status();
    }
    __u64* fields[] = {&regs->rax, &regs->rbx, &regs->rcx, &regs->rdx, &regs->rsi, &regs->rdi,
                       &regs->rsp, &regs->rbp, &regs->r8,  &regs->r9,  &regs->r10, &regs->r11,
                       &regs->r12, &regs->r13, &regs->r14, &regs->r15, &regs->rip, &regs->rflags};
    static_assert(std::size(fields) == std::tuple_size_v<decltype(change.values)>);
    for (size_t i = 0; i < std::size(fields); ++i) {
      if (change.values[i]) {
        *fields[i] = *change.values[i];
      }
    }
    // Bit 1 of RFLAGS always reads as one; KVM rejects nothing, the CPU would.
    regs->rflags |= 0x2;
    if (absl::Status s = fd.SetRegs(*regs); !s.ok()) {
      regs = s;
      return s;
    }
    return absl::OkStatus();
  });
  return regs;
}

absl::StatusOr<std::vector<PhysicalChunk>> VmDebugger::Impl::MapForAccess(AddressSpace space,
                                                                          uint64_t address,
                                                                          size_t length,
                                                                          uint32_t vcpu) {
  if (absl::Status s = CheckEnabled(); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckVcpu(vcpu); !s.ok()) {
    return s;
  }
  uint64_t cr3 = 0;
  if (space == AddressSpace::kVirtual) {
    absl::StatusOr<uint64_t> root = Cr3Of(vcpu);
    if (!root.ok()) {
      return root.status();
    }
    cr3 = *root;
  }
  return MapGuestRange(vm_.memory(), space, cr3, address, length);
}

absl::StatusOr<std::vector<std::byte>> VmDebugger::Impl::ReadMemory(AddressSpace space,
                                                                    uint64_t address, size_t length,
                                                                    uint32_t vcpu) {
  std::lock_guard control(control_mu_);
  absl::StatusOr<std::vector<PhysicalChunk>> chunks = MapForAccess(space, address, length, vcpu);
  if (!chunks.ok()) {
    return chunks.status();
  }
  std::vector<std::byte> data(length);
  for (const PhysicalChunk& chunk : *chunks) {
    std::span<std::byte> out(data.data() + chunk.offset, chunk.length);
    if (absl::Status s = vm_.memory().Read(chunk.gpa, out); !s.ok()) {
      return s;
    }
    // Show the guest's code, not our INT3 bytes.
    for (const auto& [id, bp] : breakpoints_) {
      const bool patched =
          bp->patched && bp->gpa >= chunk.gpa && bp->gpa < chunk.gpa + chunk.length;
      if (patched) {
        out[bp->gpa - chunk.gpa] = std::byte{bp->original};
      }
    }
  }
  return data;
}

absl::Status VmDebugger::Impl::WriteMemory(AddressSpace space, uint64_t address,
                                           const std::vector<std::byte>& data, uint32_t vcpu) {
  std::lock_guard control(control_mu_);
  absl::StatusOr<std::vector<PhysicalChunk>> chunks =
      MapForAccess(space, address, data.size(), vcpu);
  if (!chunks.ok()) {
    return chunks.status();
  }
  for (const PhysicalChunk& chunk : *chunks) {
    std::span<const std::byte> in(data.data() + chunk.offset, chunk.length);
    if (absl::Status s = vm_.memory().Write(chunk.gpa, in); !s.ok()) {
      return s;
    }
    // A write over a software breakpoint changes the code under it; the INT3 stays.
    for (auto& [id, bp] : breakpoints_) {
      const bool patched =
          bp->patched && bp->gpa >= chunk.gpa && bp->gpa < chunk.gpa + chunk.length;
      if (patched) {
        bp->original = static_cast<uint8_t>(in[bp->gpa - chunk.gpa]);
        bool stepping_over = false;
        for (const auto& v : vcpus_) {
          stepping_over |= v->reinsert_id == id;
        }
        if (!stepping_over) {
          (void)vm_.memory().WriteObject<uint8_t>(bp->gpa, kInt3);
        }
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace pvm::debug
