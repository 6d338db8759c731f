// DebugService messages as a real pvmd sends them, shared by the debug formatting
// and round-trip tests.
#ifndef PVMD_TESTS_UNIT_CLIENT_SAMPLE_DEBUG_MESSAGES_H_
#define PVMD_TESTS_UNIT_CLIENT_SAMPLE_DEBUG_MESSAGES_H_

#include <cstdint>
#include <string>

#include "pvm/v1/debug.pb.h"

namespace pvm::testing {

// 2024-11-25 09:15:00.123456789 UTC
inline constexpr int64_t kEventUnixNs = 1732526100123456789;

// vm-7, all-stop, breakpoint 1 in DR0 (hit, vCPU 0 stopped there) and a write
// watchpoint in DR2 that the module's address rule drops; vCPU 1 runs.
inline v1::DebugState SampleDebugState() {
  v1::DebugState state;
  state.set_name("vm-7");
  state.set_enabled(true);
  state.set_stop_mode(v1::STOP_MODE_ALL_STOP);
  for (uint32_t i = 0; i < 4; ++i) state.add_slots()->set_index(i);
  v1::DebugSlot* slot = state.mutable_slots(0);
  slot->set_in_use(true);
  slot->set_breakpoint_id(1);
  slot->set_address(0x100c10);
  slot->set_requested_dr7(0x1);
  slot->set_effective_dr7(0x1);
  slot = state.mutable_slots(2);
  slot->set_in_use(true);
  slot->set_breakpoint_id(2);
  slot->set_address(0xffff800000001000);
  slot->set_requested_dr7(0xd00020);
  slot->set_effective_dr7(0);
  state.set_requested_dr7(0xd00421);
  state.set_effective_dr7(0x401);
  v1::VcpuDebugState* vcpu = state.add_vcpus();
  vcpu->set_id(0);
  vcpu->set_stopped(true);
  vcpu->set_reason("hw-breakpoint 1");
  vcpu->set_rip(0x100c10);
  vcpu->set_last_event(12);
  vcpu = state.add_vcpus();
  vcpu->set_id(1);
  state.set_software_breakpoints(0);
  state.set_last_event(12);
  state.set_address_rule("the module drops breakpoints on host-kernel addresses");
  state.add_mechanisms("execute breakpoints: debug registers DR0-DR3");
  state.add_mechanisms("watchpoints: page protection");
  return state;
}

inline v1::Breakpoint SampleBreakpoint() {
  v1::Breakpoint breakpoint;
  breakpoint.set_id(1);
  breakpoint.set_kind(v1::BREAKPOINT_KIND_EXEC);
  breakpoint.set_address(0x100c10);
  breakpoint.set_length(1);
  breakpoint.set_location("kcounter_loop");
  breakpoint.set_slot(0);
  breakpoint.set_hits(3);
  breakpoint.set_mechanism("debug register DR0");
  return breakpoint;
}

inline v1::Breakpoint SampleSoftwareBreakpoint() {
  v1::Breakpoint breakpoint;
  breakpoint.set_id(4);
  breakpoint.set_kind(v1::BREAKPOINT_KIND_SOFTWARE);
  breakpoint.set_address(0x100c24);
  breakpoint.set_length(1);
  breakpoint.set_trace(true);
  breakpoint.set_slot(-1);
  breakpoint.set_mechanism("INT3 patch");
  return breakpoint;
}

inline v1::StepResponse SampleStep() {
  v1::StepResponse step;
  step.set_vcpu(0);
  step.set_steps(3);
  step.set_rip(0x100880);
  step.set_reason("single-step");
  step.set_last_event(15);
  return step;
}

inline v1::EventRecord SampleEventRecord() {
  v1::EventRecord record;
  v1::DebugEvent* event = record.mutable_event();
  event->set_sequence(12);
  event->set_vm("vm-7");
  event->set_vcpu(0);
  event->set_kind(v1::EVENT_KIND_HW_BREAKPOINT);
  event->set_vector(1);
  event->set_rip(0x100c10);
  event->set_dr6(0xffff0ff1);
  event->set_dr7(0x401);
  event->set_breakpoint_id(1);
  event->set_timestamp_unix_ns(kEventUnixNs);
  event->set_stopped(true);
  return record;
}

inline v1::EventRecord SampleWatchpointRecord() {
  v1::EventRecord record;
  v1::DebugEvent* event = record.mutable_event();
  event->set_sequence(13);
  event->set_vm("vm-7");
  event->set_vcpu(1);
  event->set_kind(v1::EVENT_KIND_WATCHPOINT);
  event->set_vector(1);
  event->set_rip(0x100c2b);
  event->set_dr6(0xffff0ff4);
  event->set_dr7(0xd00421);
  event->set_breakpoint_id(2);
  // Above 2^53, where a double would round: the JSON must carry it exactly.
  event->set_address(0xffff800000001008);
  event->set_timestamp_unix_ns(kEventUnixNs + 1000);
  event->set_stopped(false);
  return record;
}

inline v1::EventRecord SampleGapRecord(uint64_t first_lost, uint64_t lost) {
  v1::EventRecord record;
  record.mutable_gap()->set_first_lost(first_lost);
  record.mutable_gap()->set_lost(lost);
  return record;
}

inline v1::Registers SampleRegisters() {
  v1::Registers registers;
  registers.set_vcpu(0);
  v1::GeneralRegisters* g = registers.mutable_general();
  g->set_rax(0x40);
  g->set_rbx(0);
  g->set_rcx(0x10000000000000);
  g->set_rdx(0x80f);
  g->set_rsi(1);
  g->set_rdi(0);
  g->set_rsp(0x3ffffc8);
  g->set_rbp(0x3ffffd0);
  g->set_r8(0xffff00ffffffffff);
  g->set_r9(0x101000);
  g->set_r10(26);
  g->set_r11(0);
  g->set_r12(1);
  g->set_r13(0);
  g->set_r14(0);
  g->set_r15(0);
  g->set_rip(0x100c10);
  g->set_rflags(0x3246);  // PF ZF IF, IOPL 3
  v1::SpecialRegisters* s = registers.mutable_special();
  v1::Segment* cs = s->mutable_cs();
  cs->set_selector(0x10);
  cs->set_limit(0xffffffff);
  cs->set_type(0xb);
  cs->set_present(true);
  cs->set_long_mode(true);
  cs->set_granularity(true);
  v1::Segment* ss = s->mutable_ss();
  ss->set_selector(0x18);
  ss->set_limit(0xffffffff);
  ss->set_type(0x3);
  ss->set_present(true);
  ss->set_default_big(true);
  ss->set_granularity(true);
  v1::Segment* tr = s->mutable_tr();
  tr->set_selector(0x40);
  tr->set_base(0x101050);
  tr->set_limit(0x4fb0);
  tr->set_type(0xb);
  tr->set_present(true);
  tr->set_system(true);
  s->mutable_gdt()->set_base(0x101000);
  s->mutable_gdt()->set_limit(0x4f);
  s->mutable_idt()->set_base(0x106060);
  s->mutable_idt()->set_limit(0x80f);
  s->set_cr0(0x80050033);
  s->set_cr3(0x1000);
  s->set_cr4(0x620);
  s->set_efer(0xd01);
  v1::DebugRegisters* d = registers.mutable_debug();
  for (uint64_t db : {0x100c10ull, 0ull, 0ull, 0ull}) d->add_db(db);
  d->set_dr6(0xffff0ff0);
  d->set_dr7(0x401);
  return registers;
}

// 20 bytes at kcounter_loop: a full line and a partial one.
inline v1::MemoryData SampleMemory() {
  v1::MemoryData memory;
  memory.set_address(0x100c10);
  memory.set_data(
      std::string("\x55\xbf\xa4\x0d\x10\x00\x48\x89\xe5\xe8\x62\xfc\xff\xff\x66\x90"
                  "AB~\x7f",
                  20));
  return memory;
}

}  // namespace pvm::testing

#endif  // PVMD_TESTS_UNIT_CLIENT_SAMPLE_DEBUG_MESSAGES_H_
