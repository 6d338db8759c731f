#include "daemon/debug/exception_intercept.h"

#include <array>

#include "absl/strings/str_format.h"
#include "daemon/debug/guest_range.h"

namespace pvm::debug {
namespace {

constexpr uint64_t kRflagsTf = 1u << 8;

// Reads n bytes at a guest-virtual address, page by page.
absl::Status ReadVirtual(const vmm::GuestMemory& memory, uint64_t cr3, uint64_t gva,
                         std::span<std::byte> out) {
  absl::StatusOr<std::vector<PhysicalChunk>> chunks =
      MapGuestRange(memory, AddressSpace::kVirtual, cr3, gva, out.size());
  if (!chunks.ok()) {
    return chunks.status();
  }
  for (const PhysicalChunk& chunk : *chunks) {
    if (absl::Status s = memory.Read(chunk.gpa, out.subspan(chunk.offset, chunk.length)); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<uint64_t> IdtHandler(const vmm::GuestMemory& memory, const kvm_sregs& sregs,
                                    int vector) {
  const uint64_t offset = static_cast<uint64_t>(vector) * 16;
  if (sregs.idt.limit < offset + 15) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "the guest's IDT (limit 0x%x) has no gate for vector %d", sregs.idt.limit, vector));
  }
  std::array<uint64_t, 2> gate{};
  if (absl::Status s = ReadVirtual(memory, sregs.cr3, sregs.idt.base + offset,
                                   std::as_writable_bytes(std::span(gate)));
      !s.ok()) {
    return absl::FailedPreconditionError(
        absl::StrFormat("the guest's IDT gate %d cannot be read: %s", vector, s.message()));
  }
  const uint64_t low = gate[0];
  const bool present = (low >> 47) & 1;
  const unsigned type = (low >> 40) & 0xf;
  if (!present || (type != 0xe && type != 0xf)) {
    return absl::FailedPreconditionError(
        absl::StrFormat("the guest's IDT gate %d is %s", vector,
                        present ? "not a 64-bit interrupt or trap gate" : "not present"));
  }
  return (low & 0xffff) | ((low >> 32) & 0xffff0000) | (gate[1] << 32);
}

absl::StatusOr<ExceptionFrame> ReadExceptionFrame(const vmm::GuestMemory& memory, uint64_t cr3,
                                                  uint64_t rsp) {
  std::array<uint64_t, 5> words{};
  if (absl::Status s = ReadVirtual(memory, cr3, rsp, std::as_writable_bytes(std::span(words)));
      !s.ok()) {
    return s;
  }
  return ExceptionFrame{words[0], words[1], words[2], words[3], words[4]};
}

absl::StatusOr<kvm_segment> SegmentFromGdt(const vmm::GuestMemory& memory, const kvm_sregs& sregs,
                                           uint16_t selector) {
  const uint64_t index = selector >> 3;
  if ((selector & 4) != 0 || index == 0 || sregs.gdt.limit < index * 8 + 7) {
    return absl::FailedPreconditionError(
        absl::StrFormat("selector 0x%x is not a GDT segment", selector));
  }
  uint64_t d = 0;
  if (absl::Status s = ReadVirtual(memory, sregs.cr3, sregs.gdt.base + index * 8,
                                   std::as_writable_bytes(std::span(&d, 1)));
      !s.ok()) {
    return s;
  }
  kvm_segment seg{};
  seg.selector = selector;
  seg.base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);
  const uint32_t raw_limit = (d & 0xffff) | (((d >> 48) & 0xf) << 16);
  seg.g = (d >> 55) & 1;
  seg.limit = seg.g ? (raw_limit << 12) | 0xfff : raw_limit;
  seg.type = ((d >> 40) & 0xf) | 1;  // the CPU sets "accessed" when it loads one
  seg.s = (d >> 44) & 1;
  seg.dpl = (d >> 45) & 3;
  seg.present = (d >> 47) & 1;
  seg.avl = (d >> 52) & 1;
  seg.l = (d >> 53) & 1;
  seg.db = (d >> 54) & 1;
  if (!seg.present) {
    return absl::FailedPreconditionError(
        absl::StrFormat("GDT segment 0x%x is not present", selector));
  }
  return seg;
}

absl::StatusOr<ExceptionFrame> UnwindException(vmm::VcpuFd& fd, const vmm::GuestMemory& memory,
                                               uint64_t rip_back, bool clear_tf) {
  absl::StatusOr<kvm_regs> regs = fd.GetRegs();
  absl::StatusOr<kvm_sregs> sregs = fd.GetSregs();
  if (!regs.ok() || !sregs.ok()) {
    return regs.ok() ? sregs.status() : regs.status();
  }
  absl::StatusOr<ExceptionFrame> frame = ReadExceptionFrame(memory, sregs->cr3, regs->rsp);
  if (!frame.ok()) {
    return frame.status();
  }
  absl::StatusOr<kvm_segment> cs = SegmentFromGdt(memory, *sregs, frame->cs & 0xffff);
  absl::StatusOr<kvm_segment> ss = SegmentFromGdt(memory, *sregs, frame->ss & 0xffff);
  if (!cs.ok() || !ss.ok()) {
    return cs.ok() ? ss.status() : cs.status();
  }
  regs->rip = frame->rip - rip_back;
  regs->rsp = frame->rsp;
  regs->rflags = clear_tf ? frame->rflags & ~kRflagsTf : frame->rflags;
  sregs->cs = *cs;
  sregs->ss = *ss;
  if (absl::Status s = fd.SetSregs(*sregs); !s.ok()) {
    return s;
  }
  if (absl::Status s = fd.SetRegs(*regs); !s.ok()) {
    return s;
  }
  return frame;
}

}  // namespace pvm::debug
