#include "daemon/gdb/x86_64_registers.h"

#include <array>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "daemon/gdb/rsp_framing.h"

namespace pvm::gdb {
namespace {

// Registers numbered as gdb's amd64 architecture expects them (its core, sse and
// segments features), then the system registers under a feature of pvmd's own.
constexpr char kTargetXml[] = R"(<?xml version="1.0"?>
<!DOCTYPE target SYSTEM "gdb-target.dtd">
<target version="1.0">
  <architecture>i386:x86-64</architecture>
  <feature name="org.gnu.gdb.i386.core">
    <flags id="i386_eflags" size="4">
      <field name="CF" start="0" end="0"/><field name="" start="1" end="1"/>
      <field name="PF" start="2" end="2"/><field name="AF" start="4" end="4"/>
      <field name="ZF" start="6" end="6"/><field name="SF" start="7" end="7"/>
      <field name="TF" start="8" end="8"/><field name="IF" start="9" end="9"/>
      <field name="DF" start="10" end="10"/><field name="OF" start="11" end="11"/>
      <field name="NT" start="14" end="14"/><field name="RF" start="16" end="16"/>
      <field name="VM" start="17" end="17"/><field name="AC" start="18" end="18"/>
      <field name="VIF" start="19" end="19"/><field name="VIP" start="20" end="20"/>
      <field name="ID" start="21" end="21"/>
    </flags>
    <reg name="rax" bitsize="64" type="int64" regnum="0"/>
    <reg name="rbx" bitsize="64" type="int64"/>
    <reg name="rcx" bitsize="64" type="int64"/>
    <reg name="rdx" bitsize="64" type="int64"/>
    <reg name="rsi" bitsize="64" type="int64"/>
    <reg name="rdi" bitsize="64" type="int64"/>
    <reg name="rbp" bitsize="64" type="data_ptr"/>
    <reg name="rsp" bitsize="64" type="data_ptr"/>
    <reg name="r8" bitsize="64" type="int64"/>
    <reg name="r9" bitsize="64" type="int64"/>
    <reg name="r10" bitsize="64" type="int64"/>
    <reg name="r11" bitsize="64" type="int64"/>
    <reg name="r12" bitsize="64" type="int64"/>
    <reg name="r13" bitsize="64" type="int64"/>
    <reg name="r14" bitsize="64" type="int64"/>
    <reg name="r15" bitsize="64" type="int64"/>
    <reg name="rip" bitsize="64" type="code_ptr"/>
    <reg name="eflags" bitsize="32" type="i386_eflags"/>
    <reg name="cs" bitsize="32" type="int32"/>
    <reg name="ss" bitsize="32" type="int32"/>
    <reg name="ds" bitsize="32" type="int32"/>
    <reg name="es" bitsize="32" type="int32"/>
    <reg name="fs" bitsize="32" type="int32"/>
    <reg name="gs" bitsize="32" type="int32"/>
    <reg name="st0" bitsize="80" type="i387_ext"/>
    <reg name="st1" bitsize="80" type="i387_ext"/>
    <reg name="st2" bitsize="80" type="i387_ext"/>
    <reg name="st3" bitsize="80" type="i387_ext"/>
    <reg name="st4" bitsize="80" type="i387_ext"/>
    <reg name="st5" bitsize="80" type="i387_ext"/>
    <reg name="st6" bitsize="80" type="i387_ext"/>
    <reg name="st7" bitsize="80" type="i387_ext"/>
    <reg name="fctrl" bitsize="32" type="int" group="float"/>
    <reg name="fstat" bitsize="32" type="int" group="float"/>
    <reg name="ftag" bitsize="32" type="int" group="float"/>
    <reg name="fiseg" bitsize="32" type="int" group="float"/>
    <reg name="fioff" bitsize="32" type="int" group="float"/>
    <reg name="foseg" bitsize="32" type="int" group="float"/>
    <reg name="fooff" bitsize="32" type="int" group="float"/>
    <reg name="fop" bitsize="32" type="int" group="float"/>
  </feature>
  <feature name="org.gnu.gdb.i386.sse">
    <vector id="v4f" type="ieee_single" count="4"/>
    <vector id="v2d" type="ieee_double" count="2"/>
    <vector id="v16i8" type="int8" count="16"/>
    <vector id="v8i16" type="int16" count="8"/>
    <vector id="v4i32" type="int32" count="4"/>
    <vector id="v2i64" type="int64" count="2"/>
    <union id="vec128">
      <field name="v4_float" type="v4f"/><field name="v2_double" type="v2d"/>
      <field name="v16_int8" type="v16i8"/><field name="v8_int16" type="v8i16"/>
      <field name="v4_int32" type="v4i32"/><field name="v2_int64" type="v2i64"/>
      <field name="uint128" type="uint128"/>
    </union>
    <reg name="xmm0" bitsize="128" type="vec128" regnum="40"/>
    <reg name="xmm1" bitsize="128" type="vec128"/>
    <reg name="xmm2" bitsize="128" type="vec128"/>
    <reg name="xmm3" bitsize="128" type="vec128"/>
    <reg name="xmm4" bitsize="128" type="vec128"/>
    <reg name="xmm5" bitsize="128" type="vec128"/>
    <reg name="xmm6" bitsize="128" type="vec128"/>
    <reg name="xmm7" bitsize="128" type="vec128"/>
    <reg name="xmm8" bitsize="128" type="vec128"/>
    <reg name="xmm9" bitsize="128" type="vec128"/>
    <reg name="xmm10" bitsize="128" type="vec128"/>
    <reg name="xmm11" bitsize="128" type="vec128"/>
    <reg name="xmm12" bitsize="128" type="vec128"/>
    <reg name="xmm13" bitsize="128" type="vec128"/>
    <reg name="xmm14" bitsize="128" type="vec128"/>
    <reg name="xmm15" bitsize="128" type="vec128"/>
    <reg name="mxcsr" bitsize="32" type="int" group="vector"/>
  </feature>
  <feature name="org.gnu.gdb.i386.segments">
    <reg name="fs_base" bitsize="64" type="int64" regnum="57"/>
    <reg name="gs_base" bitsize="64" type="int64"/>
  </feature>
  <feature name="org.pvmd.x86-64.system">
    <reg name="cr0" bitsize="64" type="int64" group="system" regnum="59"/>
    <reg name="cr2" bitsize="64" type="int64" group="system"/>
    <reg name="cr3" bitsize="64" type="int64" group="system"/>
    <reg name="cr4" bitsize="64" type="int64" group="system"/>
    <reg name="cr8" bitsize="64" type="int64" group="system"/>
    <reg name="efer" bitsize="64" type="int64" group="system"/>
  </feature>
</target>
)";

enum class Source { kGeneral, kSelector, kSystem, kUnavailable };

struct RegisterSlot {
  uint8_t size;  // bytes
  Source source;
  uint8_t index;  // kGeneral: RegisterChange index (kvm_regs order); else per source
};

// kvm_regs order is rax rbx rcx rdx rsi rdi rsp rbp r8..r15 rip rflags; gdb's puts
// rbp before rsp.
constexpr std::array<RegisterSlot, kRegisterCount> kLayout = [] {
  std::array<RegisterSlot, kRegisterCount> layout{};
  constexpr uint8_t kGeneralIndex[] = {0, 1, 2, 3, 4, 5, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  for (uint8_t i = 0; i < 17; ++i) {
    layout[i] = {8, Source::kGeneral, kGeneralIndex[i]};
  }
  layout[17] = {4, Source::kGeneral, 17};  // eflags
  for (uint8_t i = 0; i < 6; ++i) {
    layout[18 + i] = {4, Source::kSelector, i};
  }
  for (uint8_t i = 24; i < 32; ++i) {
    layout[i] = {10, Source::kUnavailable, 0};
  }
  for (uint8_t i = 32; i < 40; ++i) {
    layout[i] = {4, Source::kUnavailable, 0};
  }
  for (uint8_t i = 40; i < 56; ++i) {
    layout[i] = {16, Source::kUnavailable, 0};
  }
  layout[56] = {4, Source::kUnavailable, 0};  // mxcsr
  for (uint8_t i = 0; i < 8; ++i) {
    layout[57 + i] = {8, Source::kSystem, i};  // fs_base gs_base cr0 cr2 cr3 cr4 cr8 efer
  }
  return layout;
}();

uint64_t GeneralValue(const kvm_regs& regs, uint8_t index) {
  const uint64_t values[] = {regs.rax, regs.rbx, regs.rcx, regs.rdx, regs.rsi, regs.rdi,
                             regs.rsp, regs.rbp, regs.r8,  regs.r9,  regs.r10, regs.r11,
                             regs.r12, regs.r13, regs.r14, regs.r15, regs.rip, regs.rflags};
  return values[index];
}

uint64_t SelectorValue(const kvm_sregs& sregs, uint8_t index) {
  const kvm_segment* segments[] = {&sregs.cs, &sregs.ss, &sregs.ds,
                                   &sregs.es, &sregs.fs, &sregs.gs};
  return segments[index]->selector;
}

uint64_t SystemValue(const kvm_sregs& sregs, uint8_t index) {
  const uint64_t values[] = {sregs.fs.base, sregs.gs.base, sregs.cr0, sregs.cr2,
                             sregs.cr3,     sregs.cr4,     sregs.cr8, sregs.efer};
  return values[index];
}

std::optional<uint64_t> ValueOf(const RegisterSlot& slot, const kvm_regs& regs,
                                const kvm_sregs& sregs) {
  switch (slot.source) {
    case Source::kGeneral:
      return GeneralValue(regs, slot.index);
    case Source::kSelector:
      return SelectorValue(sregs, slot.index);
    case Source::kSystem:
      return SystemValue(sregs, slot.index);
    case Source::kUnavailable:
      break;
  }
  return std::nullopt;
}

std::string LittleEndian(uint64_t value, size_t size) {
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size && i < 8; ++i) {
    bytes[i] = static_cast<char>(value >> (8 * i));
  }
  return bytes;
}

uint64_t FromLittleEndian(std::string_view bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < bytes.size() && i < 8; ++i) {
    value |= uint64_t{static_cast<uint8_t>(bytes[i])} << (8 * i);
  }
  return value;
}

std::string EncodeSlot(const RegisterSlot& slot, const kvm_regs& regs, const kvm_sregs& sregs) {
  std::optional<uint64_t> value = ValueOf(slot, regs, sregs);
  if (!value) {
    return std::string(2 * slot.size, 'x');
  }
  return HexEncode(LittleEndian(*value, slot.size));
}

size_t LayoutBytes() {
  size_t total = 0;
  for (const RegisterSlot& slot : kLayout) {
    total += slot.size;
  }
  return total;
}

}  // namespace

std::string_view TargetXml() { return kTargetXml; }

std::string EncodeRegisters(const kvm_regs& regs, const kvm_sregs& sregs) {
  std::string out;
  out.reserve(2 * LayoutBytes());
  for (const RegisterSlot& slot : kLayout) {
    out += EncodeSlot(slot, regs, sregs);
  }
  return out;
}

absl::StatusOr<std::string> EncodeRegister(uint32_t number, const kvm_regs& regs,
                                           const kvm_sregs& sregs) {
  if (number >= kRegisterCount) {
    return absl::NotFoundError(absl::StrCat("no register ", number));
  }
  return EncodeSlot(kLayout[number], regs, sregs);
}

absl::StatusOr<debug::RegisterChange> DecodeRegisterWrite(uint32_t number, std::string_view bytes) {
  if (number >= kRegisterCount) {
    return absl::NotFoundError(absl::StrCat("no register ", number));
  }
  const RegisterSlot& slot = kLayout[number];
  if (bytes.size() != slot.size) {
    return absl::InvalidArgumentError(
        absl::StrCat("register ", number, " has ", slot.size, " bytes, not ", bytes.size()));
  }
  if (slot.source != Source::kGeneral) {
    return absl::FailedPreconditionError(absl::StrCat("register ", number,
                                                      " is read-only: pvmd writes only the general "
                                                      "registers, rip and eflags"));
  }
  debug::RegisterChange change;
  change.values[slot.index] = FromLittleEndian(bytes);
  return change;
}

absl::StatusOr<debug::RegisterChange> DecodeRegistersWrite(std::string_view bytes,
                                                           const kvm_regs& regs,
                                                           const kvm_sregs& sregs) {
  if (bytes.size() != LayoutBytes()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a G packet holds ", LayoutBytes(), " bytes, not ", bytes.size()));
  }
  debug::RegisterChange change;
  size_t offset = 0;
  for (uint32_t number = 0; number < kRegisterCount; ++number) {
    const RegisterSlot& slot = kLayout[number];
    const uint64_t value = FromLittleEndian(bytes.substr(offset, slot.size));
    offset += slot.size;
    if (slot.source == Source::kGeneral) {
      change.values[slot.index] = value;
    } else if (slot.source != Source::kUnavailable && value != ValueOf(slot, regs, sregs)) {
      return absl::FailedPreconditionError(
          absl::StrCat("register ", number,
                       " is read-only: pvmd writes only the general "
                       "registers, rip and eflags"));
    }
  }
  return change;
}

}  // namespace pvm::gdb
