// daemon/api/debug_proto: every field lands where the API says, in kvm_regs order,
// with the proto's conventions (S clear = system, optional address, open enums).
#include "daemon/api/debug_proto.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdint>

namespace pvm::api {
namespace {

using ::testing::HasSubstr;

// kvm_regs's members in declaration order, which is the order of
// debug::RegisterChange::values and of GeneralRegisters' field numbers.
constexpr std::array<__u64 kvm_regs::*, 18> kRegsOrder = {
    &kvm_regs::rax, &kvm_regs::rbx, &kvm_regs::rcx,   &kvm_regs::rdx, &kvm_regs::rsi,
    &kvm_regs::rdi, &kvm_regs::rsp, &kvm_regs::rbp,   &kvm_regs::r8,  &kvm_regs::r9,
    &kvm_regs::r10, &kvm_regs::r11, &kvm_regs::r12,   &kvm_regs::r13, &kvm_regs::r14,
    &kvm_regs::r15, &kvm_regs::rip, &kvm_regs::rflags};

kvm_regs DistinctRegs() {
  kvm_regs regs{};
  for (size_t i = 0; i < kRegsOrder.size(); ++i) regs.*kRegsOrder[i] = 0x1111000000000000 + i;
  return regs;
}

TEST(GeneralRegisters, EveryRegisterSetUnderItsOwnName) {
  const kvm_regs regs = DistinctRegs();
  v1::GeneralRegisters general;
  ToProto(regs, &general);
  // Field numbers 1..18 follow kvm_regs order: check through reflection, so a
  // swapped pair of set_ calls cannot pass.
  const google::protobuf::Descriptor* descriptor = general.GetDescriptor();
  const google::protobuf::Reflection* reflection = general.GetReflection();
  for (int number = 1; number <= 18; ++number) {
    const google::protobuf::FieldDescriptor* field = descriptor->FindFieldByNumber(number);
    ASSERT_NE(field, nullptr) << number;
    EXPECT_TRUE(reflection->HasField(general, field)) << field->name();
    EXPECT_EQ(reflection->GetUInt64(general, field), regs.*kRegsOrder[number - 1]) << field->name();
  }
  EXPECT_EQ(general.rip(), regs.rip);
  EXPECT_EQ(general.r8(), regs.r8);
}

TEST(RegisterChange, OnlyTheFieldsSetInKvmRegsOrder) {
  v1::GeneralRegisters general;
  general.set_rbx(2);
  general.set_r8(8);
  general.set_rip(0x100c10);
  general.set_rax(0);  // set to zero is still a change
  const debug::RegisterChange change = ToRegisterChange(general);
  for (size_t i = 0; i < change.values.size(); ++i) {
    switch (i) {
      case 0:
        EXPECT_EQ(change.values[i], 0u);
        break;
      case 1:
        EXPECT_EQ(change.values[i], 2u);
        break;
      case 8:
        EXPECT_EQ(change.values[i], 8u);
        break;
      case 16:
        EXPECT_EQ(change.values[i], 0x100c10u);
        break;
      default:
        EXPECT_FALSE(change.values[i].has_value()) << i;
    }
  }
}

TEST(RegisterChange, RoundTripKeepsEveryRegisterInPlace) {
  const kvm_regs regs = DistinctRegs();
  v1::GeneralRegisters general;
  ToProto(regs, &general);
  const debug::RegisterChange change = ToRegisterChange(general);
  for (size_t i = 0; i < kRegsOrder.size(); ++i) {
    EXPECT_EQ(change.values[i], regs.*kRegsOrder[i]) << i;
  }
}

TEST(SpecialRegisters, SegmentsTablesAndControlRegisters) {
  kvm_sregs sregs{};
  sregs.cs = {.base = 0,
              .limit = 0xffffffff,
              .selector = 0x10,
              .type = 0xb,
              .present = 1,
              .dpl = 0,
              .db = 0,
              .s = 1,
              .l = 1,
              .g = 1};
  sregs.tr = {.base = 0x101050,
              .limit = 0x4fb0,
              .selector = 0x40,
              .type = 0xb,
              .present = 1,
              .dpl = 0,
              .db = 0,
              .s = 0,
              .l = 0,
              .g = 0};
  sregs.ss = {.base = 0,
              .limit = 0xffffffff,
              .selector = 0x1b,
              .type = 0x3,
              .present = 1,
              .dpl = 3,
              .db = 1,
              .s = 1,
              .l = 0,
              .g = 1};
  sregs.gdt = {.base = 0x101000, .limit = 0x4f};
  sregs.idt = {.base = 0x106060, .limit = 0x80f};
  sregs.cr0 = 0x80050033;
  sregs.cr2 = 2;
  sregs.cr3 = 0x1000;
  sregs.cr4 = 0x620;
  sregs.cr8 = 8;
  sregs.efer = 0xd01;
  v1::SpecialRegisters out;
  ToProto(sregs, &out);
  EXPECT_EQ(out.cs().selector(), 0x10u);
  EXPECT_TRUE(out.cs().long_mode());
  EXPECT_TRUE(out.cs().present());
  EXPECT_TRUE(out.cs().granularity());
  EXPECT_FALSE(out.cs().default_big());
  EXPECT_FALSE(out.cs().system());  // S set: a code segment
  EXPECT_TRUE(out.tr().system());   // S clear: the TSS is a system segment
  EXPECT_EQ(out.tr().base(), 0x101050u);
  EXPECT_EQ(out.tr().limit(), 0x4fb0u);
  EXPECT_EQ(out.ss().dpl(), 3u);
  EXPECT_TRUE(out.ss().default_big());
  EXPECT_EQ(out.gdt().base(), 0x101000u);
  EXPECT_EQ(out.gdt().limit(), 0x4fu);
  EXPECT_EQ(out.idt().base(), 0x106060u);
  EXPECT_EQ(out.idt().limit(), 0x80fu);
  EXPECT_EQ(out.cr0(), 0x80050033u);
  EXPECT_EQ(out.cr2(), 2u);
  EXPECT_EQ(out.cr3(), 0x1000u);
  EXPECT_EQ(out.cr4(), 0x620u);
  EXPECT_EQ(out.cr8(), 8u);
  EXPECT_EQ(out.efer(), 0xd01u);
}

TEST(DebugRegisters, FourAddressesDr6Dr7) {
  kvm_debugregs debugregs{};
  debugregs.db[0] = 0x100c10;
  debugregs.db[3] = 0xffff800000000000;
  debugregs.dr6 = 0xffff0ff1;
  debugregs.dr7 = 0x401;
  v1::DebugRegisters out;
  ToProto(debugregs, &out);
  ASSERT_EQ(out.db_size(), 4);
  EXPECT_EQ(out.db(0), 0x100c10u);
  EXPECT_EQ(out.db(3), 0xffff800000000000u);
  EXPECT_EQ(out.dr6(), 0xffff0ff1u);
  EXPECT_EQ(out.dr7(), 0x401u);
}

TEST(DebugEvent, EveryFieldAndTheVmName) {
  debug::DebugEvent event;
  event.sequence = 12;
  event.timestamp_ns = 1732526100123456789;
  event.rip = 0x100c10;
  event.dr6 = 0xffff0ff1;
  event.dr7 = 0x401;
  event.vcpu = 3;
  event.breakpoint_id = 1;
  event.kind = debug::EventKind::kHwBreakpoint;
  event.vector = 1;
  event.stopped = true;
  v1::DebugEvent out;
  ToProto("vm-7", event, &out);
  EXPECT_EQ(out.sequence(), 12u);
  EXPECT_EQ(out.vm(), "vm-7");
  EXPECT_EQ(out.vcpu(), 3u);
  EXPECT_EQ(out.kind(), v1::EVENT_KIND_HW_BREAKPOINT);
  EXPECT_EQ(out.vector(), 1u);
  EXPECT_EQ(out.rip(), 0x100c10u);
  EXPECT_EQ(out.dr6(), 0xffff0ff1u);
  EXPECT_EQ(out.dr7(), 0x401u);
  EXPECT_EQ(out.breakpoint_id(), 1u);
  EXPECT_FALSE(out.has_address());
  EXPECT_EQ(out.timestamp_unix_ns(), 1732526100123456789);
  EXPECT_TRUE(out.stopped());

  event.kind = debug::EventKind::kWatchpoint;
  event.has_address = true;
  event.address = 0;  // an access at address 0 is still an address
  event.stopped = false;
  out.Clear();
  ToProto("vm-7", event, &out);
  EXPECT_EQ(out.kind(), v1::EVENT_KIND_WATCHPOINT);
  EXPECT_TRUE(out.has_address());
  EXPECT_EQ(out.address(), 0u);
  EXPECT_FALSE(out.stopped());
}

TEST(EventKind, EveryKind) {
  EXPECT_EQ(ToProto(debug::EventKind::kHwBreakpoint), v1::EVENT_KIND_HW_BREAKPOINT);
  EXPECT_EQ(ToProto(debug::EventKind::kWatchpoint), v1::EVENT_KIND_WATCHPOINT);
  EXPECT_EQ(ToProto(debug::EventKind::kSwBreakpoint), v1::EVENT_KIND_SW_BREAKPOINT);
  EXPECT_EQ(ToProto(debug::EventKind::kSingleStep), v1::EVENT_KIND_SINGLE_STEP);
}

TEST(DebugState, FourSlotsWithTheirIndexAndEveryVcpu) {
  debug::DebugStateInfo state;
  state.enabled = true;
  state.stop_mode = debug::StopMode::kTrace;
  state.slots[2] = {.in_use = true,
                    .breakpoint_id = 5,
                    .address = 0x100c10,
                    .requested_dr7 = 0x10,
                    .effective_dr7 = 0x10};
  state.requested_dr7 = 0x410;
  state.effective_dr7 = 0x410;
  state.vcpus = {
      {.id = 0, .stopped = true, .reason = "interrupted", .rip = 0x100c20, .last_event = 0},
      {.id = 1}};
  state.software_breakpoints = 2;
  state.last_event = 9;
  state.address_rule = "the module drops no breakpoint address";
  v1::DebugState out;
  ToProto("vm-7", state, &out);
  EXPECT_EQ(out.name(), "vm-7");
  EXPECT_TRUE(out.enabled());
  EXPECT_EQ(out.stop_mode(), v1::STOP_MODE_TRACE);
  ASSERT_EQ(out.slots_size(), 4);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out.slots(i).index(), static_cast<uint32_t>(i));
  EXPECT_FALSE(out.slots(0).in_use());
  EXPECT_TRUE(out.slots(2).in_use());
  EXPECT_EQ(out.slots(2).breakpoint_id(), 5u);
  EXPECT_EQ(out.slots(2).address(), 0x100c10u);
  EXPECT_EQ(out.slots(2).requested_dr7(), 0x10u);
  EXPECT_EQ(out.slots(2).effective_dr7(), 0x10u);
  EXPECT_EQ(out.requested_dr7(), 0x410u);
  EXPECT_EQ(out.effective_dr7(), 0x410u);
  ASSERT_EQ(out.vcpus_size(), 2);
  EXPECT_TRUE(out.vcpus(0).stopped());
  EXPECT_EQ(out.vcpus(0).reason(), "interrupted");
  EXPECT_EQ(out.vcpus(0).rip(), 0x100c20u);
  EXPECT_EQ(out.vcpus(1).id(), 1u);
  EXPECT_EQ(out.software_breakpoints(), 2u);
  EXPECT_EQ(out.last_event(), 9u);
  EXPECT_EQ(out.address_rule(), "the module drops no breakpoint address");
}

TEST(Breakpoint, EveryField) {
  debug::BreakpointInfo info;
  info.id = 4;
  info.spec = {
      .kind = debug::BreakpointKind::kSoftware, .address = 0x100c24, .length = 1, .trace = true};
  info.slot = -1;
  info.hits = 7;
  info.location = "kcounter_loop+0x14";
  info.mechanism = "INT3 patch";
  v1::Breakpoint out;
  ToProto(info, &out);
  EXPECT_EQ(out.id(), 4u);
  EXPECT_EQ(out.kind(), v1::BREAKPOINT_KIND_SOFTWARE);
  EXPECT_EQ(out.address(), 0x100c24u);
  EXPECT_EQ(out.length(), 1u);
  EXPECT_TRUE(out.trace());
  EXPECT_EQ(out.slot(), -1);
  EXPECT_EQ(out.hits(), 7u);
  EXPECT_EQ(out.location(), "kcounter_loop+0x14");
  EXPECT_EQ(out.mechanism(), "INT3 patch");
}

TEST(Enums, KindsModesAndSpacesBothWays) {
  for (debug::BreakpointKind kind :
       {debug::BreakpointKind::kExec, debug::BreakpointKind::kWrite,
        debug::BreakpointKind::kReadWrite, debug::BreakpointKind::kSoftware}) {
    EXPECT_EQ(FromProto(ToProto(kind)).value(), kind);
  }
  for (debug::StopMode mode : {debug::StopMode::kAllStop, debug::StopMode::kTrace}) {
    EXPECT_EQ(FromProto(ToProto(mode)).value(), mode);
  }
  EXPECT_EQ(FromProto(v1::ADDRESS_SPACE_VIRTUAL).value(), debug::AddressSpace::kVirtual);
  EXPECT_EQ(FromProto(v1::ADDRESS_SPACE_PHYSICAL).value(), debug::AddressSpace::kPhysical);
}

TEST(Enums, UnspecifiedMeansTheDocumentedDefault) {
  EXPECT_EQ(FromProto(v1::BREAKPOINT_KIND_UNSPECIFIED).value(), debug::BreakpointKind::kExec);
  EXPECT_EQ(FromProto(v1::STOP_MODE_UNSPECIFIED).value(), debug::StopMode::kAllStop);
  EXPECT_EQ(FromProto(v1::ADDRESS_SPACE_UNSPECIFIED).value(), debug::AddressSpace::kVirtual);
}

TEST(Enums, UnknownNumbersAreInvalidArgument) {
  const absl::Status kind = FromProto(static_cast<v1::BreakpointKind>(9)).status();
  EXPECT_EQ(kind.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(kind.message(), HasSubstr("breakpoint kind 9"));
  const absl::Status mode = FromProto(static_cast<v1::StopMode>(-1)).status();
  EXPECT_EQ(mode.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(mode.message(), HasSubstr("stop mode -1"));
  const absl::Status space = FromProto(static_cast<v1::AddressSpace>(3)).status();
  EXPECT_EQ(space.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(space.message(), HasSubstr("address space 3"));
}

}  // namespace
}  // namespace pvm::api
