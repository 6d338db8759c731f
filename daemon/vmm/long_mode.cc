#include "daemon/vmm/long_mode.h"

#include "daemon/vmm/guest_abi.h"

namespace pvm::vmm {
namespace {

// Flat 64-bit descriptors; the access bytes mirror what KVM_SET_SREGS gets below.
constexpr uint64_t kKernelCodeDescriptor = 0x00af9a000000ffffULL;  // L=1, DPL0, execute/read
constexpr uint64_t kKernelDataDescriptor = 0x00cf92000000ffffULL;  // DPL0, read/write
constexpr int kBootGdtEntries = 4;  // null, unused, kernel CS (0x10), kernel DS (0x18)

kvm_segment FlatSegment(uint16_t selector, bool code) {
  kvm_segment segment{};
  segment.base = 0;
  segment.limit = 0xffffffff;
  segment.selector = selector;
  segment.type = code ? 0xb : 0x3;  // accessed execute/read code, accessed read/write data
  segment.present = 1;
  segment.dpl = 0;
  segment.db = code ? 0 : 1;
  segment.s = 1;
  segment.l = code ? 1 : 0;
  segment.g = 1;
  return segment;
}

}  // namespace

absl::Status WriteBootGdt(GuestMemory& memory) {
  uint64_t gdt[kBootGdtEntries] = {};
  gdt[PVM_SEL_KERNEL_CS / 8] = kKernelCodeDescriptor;
  gdt[PVM_SEL_KERNEL_DS / 8] = kKernelDataDescriptor;
  return memory.WriteObject(PVM_BOOT_GDT_GPA, gdt);
}

absl::Status EnterLongMode(VcpuFd& vcpu, const BootParams& params) {
  absl::StatusOr<kvm_sregs> sregs = vcpu.GetSregs();
  if (!sregs.ok()) {
    return sregs.status();
  }
  sregs->cr0 = PVM_BOOT_CR0;
  sregs->cr3 = PVM_BOOT_PML4_GPA;
  sregs->cr4 = PVM_BOOT_CR4;
  sregs->efer = PVM_BOOT_EFER;
  sregs->cs = FlatSegment(PVM_SEL_KERNEL_CS, /*code=*/true);
  sregs->ss = sregs->ds = sregs->es = sregs->fs = sregs->gs =
      FlatSegment(PVM_SEL_KERNEL_DS, /*code=*/false);
  sregs->gdt.base = PVM_BOOT_GDT_GPA;
  sregs->gdt.limit = kBootGdtEntries * 8 - 1;
  // No IDT until the guest runtime installs its own: an early exception shuts the VM
  // down (triple fault) instead of jumping through garbage.
  sregs->idt.base = 0;
  sregs->idt.limit = 0;
  if (absl::Status s = vcpu.SetSregs(*sregs); !s.ok()) {
    return s;
  }

  kvm_regs regs{};
  regs.rip = params.entry;
  regs.rsp = PVM_BOOT_STACK_TOP(params.memory_size, params.vcpu_id);
  regs.rflags = 0x2;  // bit 1 is reserved-one; interrupts stay off
  regs.rdi = params.vcpu_id;
  regs.rsi = params.vcpu_count;
  regs.rdx = params.memory_size;
  return vcpu.SetRegs(regs);
}

}  // namespace pvm::vmm
