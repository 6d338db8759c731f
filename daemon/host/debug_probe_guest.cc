#include "daemon/host/debug_probe_guest.h"

#include <array>
#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <span>
#include <vector>

#include "daemon/vmm/guest_abi.h"
#include "daemon/vmm/page_tables.h"

namespace pvm::host::probe {
namespace {

constexpr uint64_t kGdt = 0x4000;
constexpr int kGdtEntries = 10;
constexpr uint64_t kIdt = 0x5000;
constexpr uint64_t kTss = 0x6000;
constexpr uint64_t kTssLimit = 0x67;  // a 64-bit TSS: only RSP0 is used
constexpr uint64_t kHighPdpt = 0x9000;
constexpr uint64_t kHighPd = 0xa000;

constexpr uint64_t kPresent = 1, kWritable = 2, kUser = 4, kLargePage = 0x80;
constexpr uint64_t kTableFlags = kPresent | kWritable | kUser;  // kvm-pvm: U/S on every level

constexpr uint64_t kKernelCode = 0x00af9a000000ffffull;  // L=1, DPL0
constexpr uint64_t kKernelData = 0x00cf92000000ffffull;
constexpr uint64_t kUserData = 0x00cff2000000ffffull;  // DPL3
constexpr uint64_t kUserCode = 0x00affa000000ffffull;  // L=1, DPL3

using Code = std::vector<uint8_t>;

constexpr uint8_t kNop = 0x90;
constexpr uint8_t kInt3 = 0xcc;

void Append(Code& code, std::initializer_list<uint8_t> bytes) {
  code.insert(code.end(), bytes.begin(), bytes.end());
}

template <typename T>
void AppendLittleEndian(Code& code, T value) {
  uint8_t bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  code.insert(code.end(), bytes, bytes + sizeof(T));
}

// movb $value, address (absolute, 32-bit); jmp back to it, so a resume reports again.
void AppendReport(Code& code, uint64_t address, uint8_t value) {
  Append(code, {0xc6, 0x04, 0x25});
  AppendLittleEndian(code, static_cast<uint32_t>(address));
  Append(code, {value, 0xeb, static_cast<uint8_t>(-10)});
}

absl::Status WriteCode(vmm::GuestMemory& memory, uint64_t gpa, const Code& code) {
  return memory.Write(gpa, std::as_bytes(std::span(code)));
}

absl::Status WriteCodeBlocks(vmm::GuestMemory& memory) {
  Code straight = {kNop, kNop, kNop};
  AppendReport(straight, kMarkMmio, kStraightMark);
  static_assert(kStraightBreakpoint == kStraightEntry + 1);

  Code store;
  Append(store, {0x48, 0xc7, 0x04, 0x25});  // movq $imm32, abs32
  AppendLittleEndian(store, static_cast<uint32_t>(kWatched));
  AppendLittleEndian(store, static_cast<uint32_t>(kStoredValue));
  AppendReport(store, kMarkMmio, kStoreMark);
  static_assert(kStoreNext == kStoreEntry + 12);

  Code int3 = {kNop, kInt3, kNop};
  AppendReport(int3, kMarkMmio, kInt3Mark);
  static_assert(kInt3Site == kInt3Entry + 1);

  Code rule = {kNop, kNop, 0x48, 0xb8};  // movabs $(kHostHalfBase + kRuleHighCode), %rax
  AppendLittleEndian(rule, kHostHalfBase + kRuleHighCode);
  Append(rule, {0xff, 0xe0});  // jmp *%rax
  static_assert(kRuleLowBreakpoint == kRuleEntry + 1);

  // Runs at kHostHalfBase + kRuleHighCode: nop; nop; xor %eax, %eax; jmp *%rax (to 0).
  const Code rule_high = {kNop, kNop, 0x31, 0xc0, 0xff, 0xe0};
  static_assert(kRuleHighBreakpoint == kHostHalfBase + kRuleHighCode + 1);

  Code rule_zero = {kNop, kNop};
  AppendReport(rule_zero, kMarkMmio, kRuleMark);
  static_assert(kRuleZeroBreakpoint == 0);

  for (absl::Status s :
       {WriteCode(memory, kStraightEntry, straight), WriteCode(memory, kStoreEntry, store),
        WriteCode(memory, kInt3Entry, int3), WriteCode(memory, kRuleEntry, rule),
        WriteCode(memory, kRuleHighCode, rule_high),
        WriteCode(memory, kRuleZeroBreakpoint, rule_zero)}) {
    if (!s.ok()) return s;
  }
  for (int v = 0; v < kVectors; ++v) {
    Code stub;
    AppendReport(stub, kVectorMmio, static_cast<uint8_t>(v));
    if (stub.size() > kStubSize) return absl::InternalError("probe IDT stub too long");
    if (absl::Status s = WriteCode(memory, kStubs + kStubSize * v, stub); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// The MMIO page (after the identity map, without memory), and the 2 MiB page at GPA 0
// again at kHostHalfBase, so guest code can run there.
absl::Status MapExtraPages(vmm::GuestMemory& memory) {
  const uint64_t pml4_index = (kHostHalfBase >> 39) & 511;
  const uint64_t pdpt_index = (kHostHalfBase >> 30) & 511;
  const uint64_t pd_index = (kHostHalfBase >> 21) & 511;
  static_assert(kMmioBase == 2ull << 20, "the MMIO page is the boot page directory's entry 1");
  for (absl::Status s :
       {memory.WriteObject<uint64_t>(PVM_BOOT_PD_GPA + 8, kMmioBase | kTableFlags | kLargePage),
        memory.WriteObject<uint64_t>(PVM_BOOT_PML4_GPA + pml4_index * 8, kHighPdpt | kTableFlags),
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
  // Busy 64-bit TSS (type 11), present, as TR says; a 16-byte descriptor.
  gdt[PVM_SEL_TSS / 8] = (kTssLimit & 0xffff) | ((kTss & 0xffffff) << 16) | (0xbull << 40) |
                         (1ull << 47) | (((kTssLimit >> 16) & 0xf) << 48) |
                         (((kTss >> 24) & 0xff) << 56);
  gdt[PVM_SEL_TSS / 8 + 1] = kTss >> 32;
  if (absl::Status s = memory.WriteObject(kGdt, gdt); !s.ok()) return s;
  // RSP0: exceptions from CPL3 switch to the kernel stack.
  if (absl::Status s = memory.WriteObject<uint64_t>(kTss + 4, kKernelStackTop); !s.ok()) return s;

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
  if (absl::Status s = MapExtraPages(memory); !s.ok()) return s;
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
  s.tr.type = 0xb;  // busy 64-bit TSS, as LTR would leave it
  s.tr.present = 1;
  s.ldt = kvm_segment{};
  s.ldt.type = 2;
  s.ldt.unusable = 1;
  return s;
}

}  // namespace pvm::host::probe
