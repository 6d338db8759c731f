#include "daemon/host/debug_probe_guest.h"

#include <array>
#include <cstddef>
#include <cstring>
#include <span>

#include "daemon/vmm/guest_abi.h"
#include "daemon/vmm/page_tables.h"

namespace pvm::host::probe {
namespace {

constexpr uint64_t kGdt = 0x4000;
constexpr int kGdtEntries = 10;
constexpr uint64_t kIdt = 0x5000;
constexpr uint64_t kTss = 0x6000;
// A 64-bit TSS (0x68 bytes), then an all-zero I/O permission bitmap for every port
// and its 0xff terminator: without the bitmap a CPL3 OUT raises #GP in the guest.
constexpr uint64_t kTssBitmapOffset = 0x68;
constexpr uint64_t kTssLimit = kTssBitmapOffset + 0x2000;
constexpr uint64_t kHighPdpt = 0x9000;
constexpr uint64_t kHighPd = 0xa000;

constexpr uint64_t kPresent = 1, kWritable = 2, kUser = 4, kLargePage = 0x80;
constexpr uint64_t kTableFlags = kPresent | kWritable | kUser;  // kvm-pvm: U/S on every level

constexpr uint64_t kKernelCode = 0x00af9a000000ffffull;  // L=1, DPL0
constexpr uint64_t kKernelData = 0x00cf92000000ffffull;
constexpr uint64_t kUserData = 0x00cff2000000ffffull;  // DPL3
constexpr uint64_t kUserCode = 0x00affa000000ffffull;  // L=1, DPL3

constexpr uint8_t kNop = 0x90;
constexpr uint8_t kOutAlImm8 = 0xe6;  // out %al, $imm8
constexpr uint8_t kMovAlImm8 = 0xb0;  // mov $imm8, %al
constexpr uint8_t kJmpRel8 = 0xeb;
constexpr uint8_t kBackToOut = 0xfc;  // jmp -4: back to the OUT, so a resume exits again

template <size_t N>
absl::Status WriteCode(vmm::GuestMemory& memory, uint64_t gpa, const std::array<uint8_t, N>& code) {
  return memory.Write(gpa, std::as_bytes(std::span(code)));
}

absl::Status WriteCodeBlocks(vmm::GuestMemory& memory) {
  const std::array<uint8_t, 9> straight = {
      kNop, kNop, kNop, kMovAlImm8, kStraightMark, kOutAlImm8, kMarkPort, kJmpRel8, kBackToOut};
  static_assert(kStraightBreakpoint == kStraightEntry + 1);

  const std::array<uint8_t, 18> store = {
      0x48,       0xc7,       0x04,       0x25,      0x00,     0x00,
      0x02,       0x00,       0x07,       0x00,      0x00,     0x00,  // movq $7, 0x20000
      kMovAlImm8, kStoreMark, kOutAlImm8, kMarkPort, kJmpRel8, kBackToOut};
  static_assert(kWatched == 0x20000 && kStoredValue == 7 && kStoreNext == kStoreEntry + 12);

  const std::array<uint8_t, 9> int3 = {kNop,       0xcc,      kNop,     kMovAlImm8, kInt3Mark,
                                       kOutAlImm8, kMarkPort, kJmpRel8, kBackToOut};
  static_assert(kInt3Site == kInt3Entry + 1);

  // movabs $(kHostHalfBase + kRuleHighCode), %rax; jmp *%rax
  std::array<uint8_t, 14> rule = {kNop, kNop, 0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xe0};
  const uint64_t high_target = kHostHalfBase + kRuleHighCode;
  std::memcpy(&rule[4], &high_target, sizeof(high_target));
  static_assert(kRuleLowBreakpoint == kRuleEntry + 1);

  // Runs at kHostHalfBase + kRuleHighCode: nop; nop; xor %eax, %eax; jmp *%rax (to 0).
  const std::array<uint8_t, 6> rule_high = {kNop, kNop, 0x31, 0xc0, 0xff, 0xe0};
  static_assert(kRuleHighBreakpoint == kHostHalfBase + kRuleHighCode + 1);

  // At address 0.
  const std::array<uint8_t, 8> rule_zero = {kNop,       kNop,      kMovAlImm8, kRuleMark,
                                            kOutAlImm8, kMarkPort, kJmpRel8,   kBackToOut};
  static_assert(kRuleZeroBreakpoint == 0);

  for (absl::Status s :
       {WriteCode(memory, kStraightEntry, straight), WriteCode(memory, kStoreEntry, store),
        WriteCode(memory, kInt3Entry, int3), WriteCode(memory, kRuleEntry, rule),
        WriteCode(memory, kRuleHighCode, rule_high),
        WriteCode(memory, kRuleZeroBreakpoint, rule_zero)}) {
    if (!s.ok()) return s;
  }
  for (int v = 0; v < kVectors; ++v) {
    const std::array<uint8_t, kStubSize> stub = {
        kMovAlImm8, static_cast<uint8_t>(v), kOutAlImm8, kVectorPort, kJmpRel8, kBackToOut, kNop,
        kNop};
    if (absl::Status s = WriteCode(memory, kStubs + kStubSize * v, stub); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// The 2 MiB page at GPA 0 again at kHostHalfBase, so guest code can run there.
absl::Status MapHostHalfAlias(vmm::GuestMemory& memory) {
  const uint64_t pml4_index = (kHostHalfBase >> 39) & 511;
  const uint64_t pdpt_index = (kHostHalfBase >> 30) & 511;
  const uint64_t pd_index = (kHostHalfBase >> 21) & 511;
  for (absl::Status s :
       {memory.WriteObject<uint64_t>(PVM_BOOT_PML4_GPA + pml4_index * 8, kHighPdpt | kTableFlags),
        memory.WriteObject<uint64_t>(kHighPdpt + pdpt_index * 8, kHighPd | kTableFlags),
        memory.WriteObject<uint64_t>(kHighPd + pd_index * 8, 0 | kTableFlags | kLargePage)}) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status WriteDescriptorTables(vmm::GuestMemory& memory) {
  std::array<uint64_t, kGdtEntries> gdt{};
  gdt[PVM_SEL_KERNEL_CS / 8] = kKernelCode;
  gdt[PVM_SEL_KERNEL_DS / 8] = kKernelData;
  gdt[PVM_SEL_USER_DS / 8] = kUserData;
  gdt[PVM_SEL_USER_CS / 8] = kUserCode;
  // Available 64-bit TSS (type 9), present; a 16-byte descriptor.
  gdt[PVM_SEL_TSS / 8] = (kTssLimit & 0xffff) | ((kTss & 0xffffff) << 16) | (0x9ull << 40) |
                         (1ull << 47) | (((kTssLimit >> 16) & 0xf) << 48) |
                         (((kTss >> 24) & 0xff) << 56);
  gdt[PVM_SEL_TSS / 8 + 1] = kTss >> 32;
  if (absl::Status s = memory.WriteObject(kGdt, gdt); !s.ok()) return s;

  // Memory starts zeroed: RSP0, the bitmap offset and the terminator are all to set.
  for (absl::Status s : {memory.WriteObject<uint64_t>(kTss + 4, kKernelStackTop),
                         memory.WriteObject<uint16_t>(kTss + 0x66, kTssBitmapOffset),
                         memory.WriteObject<uint8_t>(kTss + kTssLimit, 0xff)}) {
    if (!s.ok()) return s;
  }

  // Interrupt gates to the stubs; #DB, #BP and #OF may be raised from CPL3 (DPL 3).
  std::array<uint64_t, 2 * kVectors> idt{};
  for (int v = 0; v < kVectors; ++v) {
    const uint64_t handler = kStubs + kStubSize * v;
    const uint64_t dpl = (v == 1 || v == 3 || v == 4) ? 3 : 0;
    idt[2 * v] = (handler & 0xffff) | (uint64_t{PVM_SEL_KERNEL_CS} << 16) | (0xeull << 40) |
                 (dpl << 45) | (1ull << 47) | (((handler >> 16) & 0xffff) << 48);
    idt[2 * v + 1] = handler >> 32;
  }
  return memory.WriteObject(kIdt, idt);
}

kvm_segment Segment(uint16_t selector, bool code, uint8_t dpl) {
  kvm_segment s{};
  s.limit = 0xffffffff;
  s.selector = selector;
  s.type = code ? 0xb : 0x3;
  s.present = 1;
  s.dpl = dpl;
  s.s = 1;
  s.l = code ? 1 : 0;
  s.db = code ? 0 : 1;
  s.g = 1;
  return s;
}

}  // namespace

absl::Status WriteProbeGuest(vmm::GuestMemory& memory) {
  if (absl::Status s = vmm::BuildIdentityMap(memory); !s.ok()) return s;
  if (absl::Status s = MapHostHalfAlias(memory); !s.ok()) return s;
  if (absl::Status s = WriteDescriptorTables(memory); !s.ok()) return s;
  return WriteCodeBlocks(memory);
}

kvm_sregs ProbeSregs(const kvm_sregs& long_mode, bool native) {
  kvm_sregs s = long_mode;
  const uint8_t dpl = native ? 3 : 0;
  s.cs = Segment(native ? PVM_SEL_USER_CS : PVM_SEL_KERNEL_CS, /*code=*/true, dpl);
  s.ss = s.ds = s.es = s.fs = s.gs =
      Segment(native ? PVM_SEL_USER_DS : PVM_SEL_KERNEL_DS, /*code=*/false, dpl);
  s.gdt.base = kGdt;
  s.gdt.limit = kGdtEntries * 8 - 1;
  s.idt.base = kIdt;
  s.idt.limit = kVectors * 16 - 1;
  s.tr = kvm_segment{};
  s.tr.base = kTss;
  s.tr.limit = kTssLimit;
  s.tr.selector = PVM_SEL_TSS;
  s.tr.type = 0xb;  // busy 64-bit TSS
  s.tr.present = 1;
  s.ldt = kvm_segment{};
  s.ldt.type = 2;
  s.ldt.unusable = 1;
  return s;
}

}  // namespace pvm::host::probe
