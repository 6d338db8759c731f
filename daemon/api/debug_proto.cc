#include "daemon/api/debug_proto.h"

#include <cstddef>

#include "absl/strings/str_cat.h"

namespace pvm::api {
namespace {

// kvm_segment.type etc. are bytes; the proto widens them.
void ToProto(const kvm_segment& segment, pvm::v1::Segment* out) {
  out->set_selector(segment.selector);
  out->set_base(segment.base);
  out->set_limit(segment.limit);
  out->set_type(segment.type);
  out->set_dpl(segment.dpl);
  out->set_present(segment.present != 0);
  out->set_long_mode(segment.l != 0);
  out->set_default_big(segment.db != 0);
  out->set_granularity(segment.g != 0);
  out->set_system(segment.s == 0);
}

void ToProto(const kvm_dtable& table, pvm::v1::DescriptorTable* out) {
  out->set_base(table.base);
  out->set_limit(table.limit);
}

}  // namespace

pvm::v1::StopMode ToProto(debug::StopMode mode) {
  switch (mode) {
    case debug::StopMode::kAllStop:
      return pvm::v1::STOP_MODE_ALL_STOP;
    case debug::StopMode::kTrace:
      return pvm::v1::STOP_MODE_TRACE;
  }
  return pvm::v1::STOP_MODE_UNSPECIFIED;
}

pvm::v1::BreakpointKind ToProto(debug::BreakpointKind kind) {
  switch (kind) {
    case debug::BreakpointKind::kExec:
      return pvm::v1::BREAKPOINT_KIND_EXEC;
    case debug::BreakpointKind::kWrite:
      return pvm::v1::BREAKPOINT_KIND_WRITE;
    case debug::BreakpointKind::kReadWrite:
      return pvm::v1::BREAKPOINT_KIND_READ_WRITE;
    case debug::BreakpointKind::kSoftware:
      return pvm::v1::BREAKPOINT_KIND_SOFTWARE;
  }
  return pvm::v1::BREAKPOINT_KIND_UNSPECIFIED;
}

pvm::v1::EventKind ToProto(debug::EventKind kind) {
  switch (kind) {
    case debug::EventKind::kHwBreakpoint:
      return pvm::v1::EVENT_KIND_HW_BREAKPOINT;
    case debug::EventKind::kWatchpoint:
      return pvm::v1::EVENT_KIND_WATCHPOINT;
    case debug::EventKind::kSwBreakpoint:
      return pvm::v1::EVENT_KIND_SW_BREAKPOINT;
    case debug::EventKind::kSingleStep:
      return pvm::v1::EVENT_KIND_SINGLE_STEP;
  }
  return pvm::v1::EVENT_KIND_UNSPECIFIED;
}

// Switches over the raw number: proto3 enums are open, a client may send anything.
absl::StatusOr<debug::StopMode> FromProto(pvm::v1::StopMode mode) {
  switch (static_cast<int>(mode)) {
    case pvm::v1::STOP_MODE_UNSPECIFIED:
    case pvm::v1::STOP_MODE_ALL_STOP:
      return debug::StopMode::kAllStop;
    case pvm::v1::STOP_MODE_TRACE:
      return debug::StopMode::kTrace;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown stop mode ", static_cast<int>(mode), " (all-stop 1, trace 2)"));
}

absl::StatusOr<debug::BreakpointKind> FromProto(pvm::v1::BreakpointKind kind) {
  switch (static_cast<int>(kind)) {
    case pvm::v1::BREAKPOINT_KIND_UNSPECIFIED:
    case pvm::v1::BREAKPOINT_KIND_EXEC:
      return debug::BreakpointKind::kExec;
    case pvm::v1::BREAKPOINT_KIND_WRITE:
      return debug::BreakpointKind::kWrite;
    case pvm::v1::BREAKPOINT_KIND_READ_WRITE:
      return debug::BreakpointKind::kReadWrite;
    case pvm::v1::BREAKPOINT_KIND_SOFTWARE:
      return debug::BreakpointKind::kSoftware;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown breakpoint kind ", static_cast<int>(kind),
                                                 " (exec 1, write 2, rw 3, sw 4)"));
}

absl::StatusOr<debug::AddressSpace> FromProto(pvm::v1::AddressSpace space) {
  switch (static_cast<int>(space)) {
    case pvm::v1::ADDRESS_SPACE_UNSPECIFIED:
    case pvm::v1::ADDRESS_SPACE_VIRTUAL:
      return debug::AddressSpace::kVirtual;
    case pvm::v1::ADDRESS_SPACE_PHYSICAL:
      return debug::AddressSpace::kPhysical;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown address space ", static_cast<int>(space), " (virtual 1, physical 2)"));
}

void ToProto(const std::string& vm_name, const debug::DebugStateInfo& state,
             pvm::v1::DebugState* out) {
  out->set_name(vm_name);
  out->set_enabled(state.enabled);
  out->set_stop_mode(ToProto(state.stop_mode));
  for (size_t i = 0; i < state.slots.size(); ++i) {
    const debug::SlotInfo& slot = state.slots[i];
    pvm::v1::DebugSlot* s = out->add_slots();
    s->set_index(static_cast<uint32_t>(i));
    s->set_in_use(slot.in_use);
    s->set_breakpoint_id(slot.breakpoint_id);
    s->set_address(slot.address);
    s->set_page_protection(slot.page_protection);
    s->set_requested_dr7(slot.requested_dr7);
    s->set_effective_dr7(slot.effective_dr7);
  }
  out->set_requested_dr7(state.requested_dr7);
  out->set_effective_dr7(state.effective_dr7);
  for (const debug::VcpuDebugInfo& vcpu : state.vcpus) {
    pvm::v1::VcpuDebugState* v = out->add_vcpus();
    v->set_id(vcpu.id);
    v->set_stopped(vcpu.stopped);
    v->set_reason(vcpu.reason);
    v->set_rip(vcpu.rip);
    v->set_last_event(vcpu.last_event);
  }
  out->set_software_breakpoints(state.software_breakpoints);
  out->set_last_event(state.last_event);
  out->set_address_rule(state.address_rule);
  for (const std::string& line : state.mechanisms) {
    out->add_mechanisms(line);
  }
}

void ToProto(const debug::BreakpointInfo& breakpoint, pvm::v1::Breakpoint* out) {
  out->set_id(breakpoint.id);
  out->set_kind(ToProto(breakpoint.spec.kind));
  out->set_address(breakpoint.spec.address);
  out->set_length(breakpoint.spec.length);
  out->set_trace(breakpoint.spec.trace);
  out->set_location(breakpoint.location);
  out->set_slot(breakpoint.slot);
  out->set_hits(breakpoint.hits);
  out->set_mechanism(breakpoint.mechanism);
}

void ToProto(const debug::StepResult& step, pvm::v1::StepResponse* out) {
  out->set_vcpu(step.vcpu);
  out->set_steps(step.steps);
  out->set_rip(step.rip);
  out->set_reason(step.reason);
  out->set_last_event(step.last_event);
}

void ToProto(const kvm_regs& regs, pvm::v1::GeneralRegisters* out) {
  out->set_rax(regs.rax);
  out->set_rbx(regs.rbx);
  out->set_rcx(regs.rcx);
  out->set_rdx(regs.rdx);
  out->set_rsi(regs.rsi);
  out->set_rdi(regs.rdi);
  out->set_rsp(regs.rsp);
  out->set_rbp(regs.rbp);
  out->set_r8(regs.r8);
  out->set_r9(regs.r9);
  out->set_r10(regs.r10);
  out->set_r11(regs.r11);
  out->set_r12(regs.r12);
  out->set_r13(regs.r13);
  out->set_r14(regs.r14);
  out->set_r15(regs.r15);
  out->set_rip(regs.rip);
  out->set_rflags(regs.rflags);
}

void ToProto(const kvm_sregs& sregs, pvm::v1::SpecialRegisters* out) {
  ToProto(sregs.cs, out->mutable_cs());
  ToProto(sregs.ds, out->mutable_ds());
  ToProto(sregs.es, out->mutable_es());
  ToProto(sregs.fs, out->mutable_fs());
  ToProto(sregs.gs, out->mutable_gs());
  ToProto(sregs.ss, out->mutable_ss());
  ToProto(sregs.tr, out->mutable_tr());
  ToProto(sregs.ldt, out->mutable_ldt());
  ToProto(sregs.gdt, out->mutable_gdt());
  ToProto(sregs.idt, out->mutable_idt());
  out->set_cr0(sregs.cr0);
  out->set_cr2(sregs.cr2);
  out->set_cr3(sregs.cr3);
  out->set_cr4(sregs.cr4);
  out->set_cr8(sregs.cr8);
  out->set_efer(sregs.efer);
}

void ToProto(const kvm_debugregs& debugregs, pvm::v1::DebugRegisters* out) {
  for (const __u64 db : debugregs.db) out->add_db(db);
  out->set_dr6(debugregs.dr6);
  out->set_dr7(debugregs.dr7);
}

void ToProto(const std::string& vm_name, const debug::DebugEvent& event, pvm::v1::DebugEvent* out) {
  out->set_sequence(event.sequence);
  out->set_vm(vm_name);
  out->set_vcpu(event.vcpu);
  out->set_kind(ToProto(event.kind));
  out->set_vector(event.vector);
  out->set_rip(event.rip);
  out->set_dr6(event.dr6);
  out->set_dr7(event.dr7);
  out->set_breakpoint_id(event.breakpoint_id);
  if (event.has_address) out->set_address(event.address);
  if (event.access_length != 0) {
    v1::WatchAccess* access = out->mutable_access();
    access->set_length(event.access_length);
    access->set_is_write(event.is_write);
    access->set_old_value(event.old_value);
    access->set_new_value(event.new_value);
  }
  out->set_timestamp_unix_ns(event.timestamp_ns);
  out->set_stopped(event.stopped);
}

debug::RegisterChange ToRegisterChange(const pvm::v1::GeneralRegisters& g) {
  debug::RegisterChange change;
  auto set = [&change](size_t index, bool has, uint64_t value) {
    if (has) change.values[index] = value;
  };
  set(0, g.has_rax(), g.rax());
  set(1, g.has_rbx(), g.rbx());
  set(2, g.has_rcx(), g.rcx());
  set(3, g.has_rdx(), g.rdx());
  set(4, g.has_rsi(), g.rsi());
  set(5, g.has_rdi(), g.rdi());
  set(6, g.has_rsp(), g.rsp());
  set(7, g.has_rbp(), g.rbp());
  set(8, g.has_r8(), g.r8());
  set(9, g.has_r9(), g.r9());
  set(10, g.has_r10(), g.r10());
  set(11, g.has_r11(), g.r11());
  set(12, g.has_r12(), g.r12());
  set(13, g.has_r13(), g.r13());
  set(14, g.has_r14(), g.r14());
  set(15, g.has_r15(), g.r15());
  set(16, g.has_rip(), g.rip());
  set(17, g.has_rflags(), g.rflags());
  return change;
}

}  // namespace pvm::api
