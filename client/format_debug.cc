#include "client/format_debug.h"

#include <array>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "client/enum_names.h"
#include "client/text_layout.h"

namespace pvm::ctl {
namespace {

constexpr size_t kDumpBytesPerLine = 16;

std::string Hex(uint64_t value) { return absl::StrCat("0x", absl::Hex(value)); }

// Registers at full width, so the columns of a register dump line up.
std::string Hex16(uint64_t value) { return absl::StrCat("0x", absl::Hex(value, absl::kZeroPad16)); }

std::string OrDash(const std::string& value) { return value.empty() ? "-" : value; }

// The JSON word of an enum as people write it, and as the daemon's own messages
// do: "all-stop", "hw-breakpoint".
std::string TextWord(absl::string_view json_word) {
  return absl::StrReplaceAll(json_word, {{"_", "-"}});
}

std::string EventRef(uint64_t sequence) {
  return sequence == 0 ? "none" : absl::StrCat("#", sequence);
}

std::string SlotText(const v1::DebugSlot& slot) {
  if (!slot.in_use()) return "free";
  if (slot.page_protection()) {
    return absl::StrCat("breakpoint ", slot.breakpoint_id(), " at ", Hex(slot.address()),
                        ", by page protection (no debug register)");
  }
  std::string text = absl::StrCat("breakpoint ", slot.breakpoint_id(), " at ", Hex(slot.address()),
                                  ", dr7 bits ", Hex(slot.requested_dr7()), " requested, ",
                                  Hex(slot.effective_dr7()), " effective");
  // The one case a person must not miss: armed, yet the hardware never sees it.
  if (slot.requested_dr7() != 0 && slot.effective_dr7() == 0) {
    absl::StrAppend(&text, " (dropped by the module's address rule)");
  }
  return text;
}

std::string VcpuText(const v1::VcpuDebugState& vcpu) {
  std::string text = vcpu.stopped() ? absl::StrCat("stopped at ", Hex(vcpu.rip()), " (",
                                                   OrDash(vcpu.reason()), ")")
                                    : std::string("not stopped");
  if (vcpu.last_event() != 0) absl::StrAppend(&text, ", last event #", vcpu.last_event());
  return text;
}

std::string SlotName(int32_t slot) { return slot < 0 ? "-" : absl::StrCat("DR", slot); }

std::string ModeText(bool trace) { return trace ? "trace" : "stop"; }

std::string AddressWithLocation(const v1::Breakpoint& breakpoint) {
  if (breakpoint.location().empty()) return Hex(breakpoint.address());
  return absl::StrCat(Hex(breakpoint.address()), " (", breakpoint.location(), ")");
}

// RFLAGS bits by name, in bit order; IOPL separately.
constexpr std::array<std::pair<int, const char*>, 15> kFlagBits = {{
    {0, "CF"},
    {2, "PF"},
    {4, "AF"},
    {6, "ZF"},
    {7, "SF"},
    {8, "TF"},
    {9, "IF"},
    {10, "DF"},
    {11, "OF"},
    {14, "NT"},
    {16, "RF"},
    {17, "VM"},
    {18, "AC"},
    {19, "VIF"},
    {20, "VIP"},
}};

std::string FlagsText(uint64_t rflags) {
  std::vector<std::string> names;
  for (const auto& [bit, name] : kFlagBits) {
    if (rflags & (uint64_t{1} << bit)) names.emplace_back(name);
  }
  if (rflags & (uint64_t{1} << 21)) names.emplace_back("ID");
  if (const uint64_t iopl = (rflags >> 12) & 3; iopl != 0) {
    names.push_back(absl::StrCat("IOPL=", iopl));
  }
  return absl::StrCat("[ ", absl::StrJoin(names, " "), names.empty() ? "]" : " ]");
}

std::string SegmentFlags(const v1::Segment& segment) {
  std::vector<const char*> flags;
  if (segment.present()) flags.push_back("P");
  if (segment.long_mode()) flags.push_back("L");
  if (segment.default_big()) flags.push_back("DB");
  if (segment.granularity()) flags.push_back("G");
  if (segment.system()) flags.push_back("sys");
  return flags.empty() ? "-" : absl::StrJoin(flags, " ");
}

// Every general register in kvm_regs order, with its name, whether set or not.
std::vector<std::pair<const char*, std::optional<uint64_t>>> GeneralRegisterList(
    const v1::GeneralRegisters& g) {
  auto get = [](bool has, uint64_t value) -> std::optional<uint64_t> {
    return has ? std::optional<uint64_t>(value) : std::nullopt;
  };
  return {
      {"rax", get(g.has_rax(), g.rax())}, {"rbx", get(g.has_rbx(), g.rbx())},
      {"rcx", get(g.has_rcx(), g.rcx())}, {"rdx", get(g.has_rdx(), g.rdx())},
      {"rsi", get(g.has_rsi(), g.rsi())}, {"rdi", get(g.has_rdi(), g.rdi())},
      {"rsp", get(g.has_rsp(), g.rsp())}, {"rbp", get(g.has_rbp(), g.rbp())},
      {"r8", get(g.has_r8(), g.r8())},    {"r9", get(g.has_r9(), g.r9())},
      {"r10", get(g.has_r10(), g.r10())}, {"r11", get(g.has_r11(), g.r11())},
      {"r12", get(g.has_r12(), g.r12())}, {"r13", get(g.has_r13(), g.r13())},
      {"r14", get(g.has_r14(), g.r14())}, {"r15", get(g.has_r15(), g.r15())},
      {"rip", get(g.has_rip(), g.rip())}, {"rflags", get(g.has_rflags(), g.rflags())},
  };
}

std::vector<std::pair<const char*, const v1::Segment*>> SegmentList(const v1::SpecialRegisters& s) {
  return {{"cs", &s.cs()}, {"ds", &s.ds()}, {"es", &s.es()}, {"fs", &s.fs()},
          {"gs", &s.gs()}, {"ss", &s.ss()}, {"tr", &s.tr()}, {"ldt", &s.ldt()}};
}

std::vector<std::pair<const char*, uint64_t>> ControlRegisterList(const v1::SpecialRegisters& s) {
  return {{"cr0", s.cr0()}, {"cr2", s.cr2()}, {"cr3", s.cr3()},
          {"cr4", s.cr4()}, {"cr8", s.cr8()}, {"efer", s.efer()}};
}

std::string HexBytes(const std::string& data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(data.size() * 2);
  for (const char c : data) {
    const auto byte = static_cast<unsigned char>(c);
    hex.push_back(kDigits[byte >> 4]);
    hex.push_back(kDigits[byte & 0xf]);
  }
  return hex;
}

Json SegmentJson(const v1::Segment& segment) {
  return Json{
      {"selector", segment.selector()},
      {"base", segment.base()},
      {"limit", segment.limit()},
      {"type", segment.type()},
      {"dpl", segment.dpl()},
      {"present", segment.present()},
      {"long_mode", segment.long_mode()},
      {"default_big", segment.default_big()},
      {"granularity", segment.granularity()},
      {"system", segment.system()},
  };
}

Json TableJson(const v1::DescriptorTable& table) {
  return Json{{"base", table.base()}, {"limit", table.limit()}};
}

}  // namespace

std::string DebugStateText(const v1::DebugState& state) {
  KeyValueRows rows = {
      {"name", state.name()},
      {"debugging", state.enabled() ? "enabled" : "disabled"},
      {"stop mode", TextWord(StopModeName(state.stop_mode()))},
      {"address rule", OrDash(state.address_rule())},
      {"dr7", absl::StrCat(Hex(state.requested_dr7()), " requested, ", Hex(state.effective_dr7()),
                           " effective")},
  };
  for (const v1::DebugSlot& slot : state.slots()) {
    rows.emplace_back(absl::StrCat("DR", slot.index()), SlotText(slot));
  }
  rows.emplace_back("software breakpoints", absl::StrCat(state.software_breakpoints()));
  for (const std::string& line : state.mechanisms()) {
    rows.emplace_back("mechanism", line);
  }
  rows.emplace_back("last event", EventRef(state.last_event()));
  for (const v1::VcpuDebugState& vcpu : state.vcpus()) {
    rows.emplace_back(absl::StrCat("vcpu ", vcpu.id()), VcpuText(vcpu));
  }
  return KeyValueLines(rows);
}

std::string BreakpointText(const v1::Breakpoint& breakpoint) {
  return KeyValueLines({
      {"breakpoint", absl::StrCat(breakpoint.id())},
      {"kind", std::string(BreakpointKindName(breakpoint.kind()))},
      {"address", AddressWithLocation(breakpoint)},
      {"length", absl::StrCat(breakpoint.length())},
      {"mode", ModeText(breakpoint.trace())},
      {"slot", SlotName(breakpoint.slot())},
      {"mechanism", OrDash(breakpoint.mechanism())},
      {"hits", absl::StrCat(breakpoint.hits())},
  });
}

std::string BreakpointListText(const v1::ListBreakpointsResponse& list) {
  if (list.breakpoints().empty()) return "no breakpoints\n";
  std::vector<std::vector<std::string>> rows = {
      {"ID", "KIND", "ADDRESS", "LEN", "MODE", "SLOT", "HITS", "LOCATION", "MECHANISM"}};
  for (const v1::Breakpoint& b : list.breakpoints()) {
    rows.push_back({absl::StrCat(b.id()), std::string(BreakpointKindName(b.kind())),
                    Hex(b.address()), absl::StrCat(b.length()), ModeText(b.trace()),
                    SlotName(b.slot()), absl::StrCat(b.hits()), OrDash(b.location()),
                    OrDash(b.mechanism())});
  }
  return AlignedTable(rows);
}

std::string BreakpointRemovedText(absl::string_view name, uint32_t id) {
  return absl::StrCat("removed breakpoint ", id, " of ", name, "\n");
}

std::string StepText(const v1::StepResponse& step) {
  return KeyValueLines({
      {"vcpu", absl::StrCat(step.vcpu())},
      {"steps", absl::StrCat(step.steps())},
      {"rip", Hex(step.rip())},
      {"reason", OrDash(step.reason())},
      {"last event", EventRef(step.last_event())},
  });
}

std::string EventRecordText(const v1::EventRecord& record) {
  switch (record.record_case()) {
    case v1::EventRecord::kEvent: {
      const v1::DebugEvent& event = record.event();
      std::string line = absl::StrCat("#", event.sequence(), " vcpu ", event.vcpu(), " ",
                                      TextWord(EventKindName(event.kind())));
      if (event.breakpoint_id() != 0) absl::StrAppend(&line, " bp ", event.breakpoint_id());
      absl::StrAppend(&line, " rip ", Hex(event.rip()));
      if (event.has_address()) absl::StrAppend(&line, " addr ", Hex(event.address()));
      if (event.has_access()) {
        const v1::WatchAccess& access = event.access();
        if (access.is_write()) {
          absl::StrAppend(&line, " write ", access.length(), " ", Hex(access.old_value()), " -> ",
                          Hex(access.new_value()));
        } else {
          absl::StrAppend(&line, " read ", access.length(), " ", Hex(access.new_value()));
        }
      }
      absl::StrAppend(&line, " dr6 ", Hex(event.dr6()), " dr7 ", Hex(event.dr7()), " ",
                      event.stopped() ? "stopped" : "traced", "\n");
      return line;
    }
    case v1::EventRecord::kGap: {
      const v1::EventGap& gap = record.gap();
      if (gap.lost() == 1) return absl::StrCat("-- 1 event lost (#", gap.first_lost(), ") --\n");
      return absl::StrCat("-- ", gap.lost(), " events lost (#", gap.first_lost(), "..#",
                          gap.first_lost() + gap.lost() - 1, ") --\n");
    }
    case v1::EventRecord::RECORD_NOT_SET:
      break;
  }
  return "";
}

std::string RegistersText(const v1::Registers& registers) {
  std::vector<std::vector<std::string>> general;
  for (const auto& [name, value] : GeneralRegisterList(registers.general())) {
    if (!value.has_value()) {
      general.push_back({name, "-"});
    } else if (std::string(name) == "rflags") {
      general.push_back({name, Hex16(*value), FlagsText(*value)});
    } else if (std::string(name) == "rip") {
      general.push_back({name, Hex16(*value)});
    } else {
      general.push_back({name, Hex16(*value), absl::StrCat(*value)});
    }
  }
  const v1::SpecialRegisters& special = registers.special();
  std::vector<std::vector<std::string>> segments = {
      {"seg", "selector", "base", "limit", "type", "dpl", "flags"}};
  for (const auto& [name, segment] : SegmentList(special)) {
    segments.push_back({name, absl::StrCat("0x", absl::Hex(segment->selector(), absl::kZeroPad4)),
                        Hex16(segment->base()), Hex(segment->limit()), Hex(segment->type()),
                        absl::StrCat(segment->dpl()), SegmentFlags(*segment)});
  }
  std::vector<std::vector<std::string>> system = {
      {"gdt",
       absl::StrCat("base ", Hex16(special.gdt().base()), "  limit ", Hex(special.gdt().limit()))},
      {"idt",
       absl::StrCat("base ", Hex16(special.idt().base()), "  limit ", Hex(special.idt().limit()))},
  };
  for (const auto& [name, value] : ControlRegisterList(special)) {
    system.push_back({name, Hex16(value)});
  }
  const v1::DebugRegisters& debug = registers.debug();
  for (int i = 0; i < debug.db_size(); ++i) {
    system.push_back({absl::StrCat("dr", i), Hex16(debug.db(i))});
  }
  system.push_back({"dr6", Hex16(debug.dr6())});
  system.push_back({"dr7", Hex16(debug.dr7())});
  return absl::StrCat("vcpu ", registers.vcpu(), "\n", AlignedTable(general), "\n",
                      AlignedTable(segments), "\n", AlignedTable(system));
}

std::string MemoryText(const v1::MemoryData& memory) {
  const std::string& data = memory.data();
  std::string text;
  for (size_t line = 0; line < data.size(); line += kDumpBytesPerLine) {
    absl::StrAppend(&text, absl::Hex(memory.address() + line, absl::kZeroPad16), " ");
    std::string ascii;
    for (size_t i = 0; i < kDumpBytesPerLine; ++i) {
      if (i == kDumpBytesPerLine / 2) text += ' ';  // the gap in the middle, as hexdump -C
      if (line + i < data.size()) {
        const auto byte = static_cast<unsigned char>(data[line + i]);
        absl::StrAppend(&text, " ", absl::Hex(byte, absl::kZeroPad2));
        ascii += (byte >= 0x20 && byte < 0x7f) ? static_cast<char>(byte) : '.';
      } else {
        text += "   ";
      }
    }
    absl::StrAppend(&text, "  |", ascii, "|\n");
  }
  return text;
}

Json DebugStateJson(const v1::DebugState& state) {
  Json slots = Json::array();
  for (const v1::DebugSlot& slot : state.slots()) {
    slots.push_back({
        {"index", slot.index()},
        {"in_use", slot.in_use()},
        {"breakpoint_id", slot.breakpoint_id()},
        {"address", slot.address()},
        {"requested_dr7", slot.requested_dr7()},
        {"effective_dr7", slot.effective_dr7()},
        {"page_protection", slot.page_protection()},
    });
  }
  Json vcpus = Json::array();
  for (const v1::VcpuDebugState& vcpu : state.vcpus()) {
    vcpus.push_back({
        {"id", vcpu.id()},
        {"stopped", vcpu.stopped()},
        {"reason", vcpu.reason()},
        {"rip", vcpu.rip()},
        {"last_event", vcpu.last_event()},
    });
  }
  return Json{
      {"name", state.name()},
      {"enabled", state.enabled()},
      {"stop_mode", StopModeName(state.stop_mode())},
      {"address_rule", state.address_rule()},
      {"requested_dr7", state.requested_dr7()},
      {"effective_dr7", state.effective_dr7()},
      {"slots", std::move(slots)},
      {"software_breakpoints", state.software_breakpoints()},
      {"mechanisms",
       Json(std::vector<std::string>(state.mechanisms().begin(), state.mechanisms().end()))},
      {"last_event", state.last_event()},
      {"vcpus", std::move(vcpus)},
  };
}

Json BreakpointJson(const v1::Breakpoint& breakpoint) {
  return Json{
      {"id", breakpoint.id()},
      {"kind", BreakpointKindName(breakpoint.kind())},
      {"address", breakpoint.address()},
      {"length", breakpoint.length()},
      {"trace", breakpoint.trace()},
      {"location", breakpoint.location()},
      {"slot", breakpoint.slot()},
      {"hits", breakpoint.hits()},
      {"mechanism", breakpoint.mechanism()},
  };
}

Json BreakpointListJson(const v1::ListBreakpointsResponse& list) {
  Json breakpoints = Json::array();
  for (const v1::Breakpoint& breakpoint : list.breakpoints()) {
    breakpoints.push_back(BreakpointJson(breakpoint));
  }
  return Json{{"breakpoints", std::move(breakpoints)}};
}

Json BreakpointRemovedJson(absl::string_view name, uint32_t id) {
  return Json{{"name", name}, {"id", id}, {"removed", true}};
}

Json StepJson(const v1::StepResponse& step) {
  return Json{
      {"vcpu", step.vcpu()},     {"steps", step.steps()},           {"rip", step.rip()},
      {"reason", step.reason()}, {"last_event", step.last_event()},
  };
}

Json EventRecordJson(const v1::EventRecord& record) {
  switch (record.record_case()) {
    case v1::EventRecord::kEvent: {
      const v1::DebugEvent& event = record.event();
      return Json{
          {"type", "event"},
          {"sequence", event.sequence()},
          {"vm", event.vm()},
          {"vcpu", event.vcpu()},
          {"kind", EventKindName(event.kind())},
          {"vector", event.vector()},
          {"rip", event.rip()},
          {"dr6", event.dr6()},
          {"dr7", event.dr7()},
          {"breakpoint_id", event.breakpoint_id()},
          {"address", event.has_address() ? Json(event.address()) : Json(nullptr)},
          {"access", event.has_access() ? Json{{"length", event.access().length()},
                                               {"is_write", event.access().is_write()},
                                               {"old_value", event.access().old_value()},
                                               {"new_value", event.access().new_value()}}
                                        : Json(nullptr)},
          {"timestamp_unix_ns", event.timestamp_unix_ns()},
          {"stopped", event.stopped()},
      };
    }
    case v1::EventRecord::kGap:
      return Json{
          {"type", "gap"},
          {"first_lost", record.gap().first_lost()},
          {"lost", record.gap().lost()},
      };
    case v1::EventRecord::RECORD_NOT_SET:
      break;
  }
  return Json(nullptr);
}

Json RegistersJson(const v1::Registers& registers) {
  Json general = Json::object();
  for (const auto& [name, value] : GeneralRegisterList(registers.general())) {
    general[name] = value.has_value() ? Json(*value) : Json(nullptr);
  }
  const v1::SpecialRegisters& s = registers.special();
  Json special = Json::object();
  for (const auto& [name, segment] : SegmentList(s)) special[name] = SegmentJson(*segment);
  special["gdt"] = TableJson(s.gdt());
  special["idt"] = TableJson(s.idt());
  for (const auto& [name, value] : ControlRegisterList(s)) special[name] = value;
  const v1::DebugRegisters& d = registers.debug();
  return Json{
      {"vcpu", registers.vcpu()},
      {"general", std::move(general)},
      {"special", std::move(special)},
      {"debug",
       {
           {"db", Json(std::vector<uint64_t>(d.db().begin(), d.db().end()))},
           {"dr6", d.dr6()},
           {"dr7", d.dr7()},
       }},
  };
}

Json MemoryJson(const v1::MemoryData& memory) {
  return Json{
      {"address", memory.address()},
      {"length", memory.data().size()},
      {"hex", HexBytes(memory.data())},
  };
}

std::string DumpJsonLine(const Json& json) {
  return json.dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace) + "\n";
}

}  // namespace pvm::ctl
