// Text and JSON of `pvmctl debug`: exact output for sample messages, and the JSON
// contract (every key present, numbers exact, enum words stable).
#include "client/format_debug.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "client/enum_names.h"
#include "tests/unit/client/sample_debug_messages.h"

namespace pvm::ctl {
namespace {

using ::pvm::testing::kEventUnixNs;
using ::pvm::testing::SampleBreakpoint;
using ::pvm::testing::SampleDebugState;
using ::pvm::testing::SampleEventRecord;
using ::pvm::testing::SampleGapRecord;
using ::pvm::testing::SampleMemory;
using ::pvm::testing::SampleRegisters;
using ::pvm::testing::SampleSoftwareBreakpoint;
using ::pvm::testing::SampleStep;
using ::pvm::testing::SampleWatchpointRecord;
using ::testing::HasSubstr;
using ::testing::Not;

std::vector<std::string> Keys(const Json& object) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.push_back(key);
  return keys;
}

// --- text ---------------------------------------------------------------------------

TEST(DebugStateText, SlotsDr7AndVcpusAtAGlance) {
  EXPECT_EQ(
      DebugStateText(SampleDebugState()),
      "name:                 vm-7\n"
      "debugging:            enabled\n"
      "stop mode:            all-stop\n"
      "address rule:         the module drops breakpoints on host-kernel addresses\n"
      "dr7:                  0xd00421 requested, 0x401 effective\n"
      "DR0:                  breakpoint 1 at 0x100c10, dr7 bits 0x1 requested, 0x1 effective\n"
      "DR1:                  free\n"
      "DR2:                  breakpoint 2 at 0xffff800000001000, dr7 bits 0xd00020 "
      "requested, 0x0 effective (dropped by the module's address rule)\n"
      "DR3:                  free\n"
      "software breakpoints: 0\n"
      "mechanism:            execute breakpoints: debug registers DR0-DR3\n"
      "mechanism:            watchpoints: page protection\n"
      "last event:           #12\n"
      "vcpu 0:               stopped at 0x100c10 (hw-breakpoint 1), last event #12\n"
      "vcpu 1:               not stopped\n");
}

TEST(DebugStateText, APageWatchSlotSaysSo) {
  v1::DebugState state = SampleDebugState();
  v1::DebugSlot* slot = state.mutable_slots(1);
  slot->set_in_use(true);
  slot->set_breakpoint_id(3);
  slot->set_address(0x101008);
  slot->set_page_protection(true);
  EXPECT_THAT(DebugStateText(state),
              HasSubstr("DR1:                  breakpoint 3 at 0x101008, by page protection (no "
                        "debug register)\n"));
}

TEST(DebugStateText, DisabledVmWithoutEvents) {
  v1::DebugState state;
  state.set_name("vm-7");
  for (uint32_t i = 0; i < 4; ++i) state.add_slots()->set_index(i);
  state.add_vcpus()->set_id(0);
  EXPECT_EQ(DebugStateText(state),
            "name:                 vm-7\n"
            "debugging:            disabled\n"
            "stop mode:            all-stop\n"
            "address rule:         -\n"
            "dr7:                  0x0 requested, 0x0 effective\n"
            "DR0:                  free\n"
            "DR1:                  free\n"
            "DR2:                  free\n"
            "DR3:                  free\n"
            "software breakpoints: 0\n"
            "last event:           none\n"
            "vcpu 0:               not stopped\n");
}

TEST(DebugStateText, TraceMode) {
  v1::DebugState state = SampleDebugState();
  state.set_stop_mode(v1::STOP_MODE_TRACE);
  EXPECT_THAT(DebugStateText(state), HasSubstr("stop mode:            trace\n"));
}

TEST(BreakpointText, KeyValueLines) {
  EXPECT_EQ(BreakpointText(SampleBreakpoint()),
            "breakpoint: 1\n"
            "kind:       exec\n"
            "address:    0x100c10 (kcounter_loop)\n"
            "length:     1\n"
            "mode:       stop\n"
            "slot:       DR0\n"
            "mechanism:  debug register DR0\n"
            "hits:       3\n");
}

TEST(BreakpointText, SoftwareTraceBreakpointWithoutSymbol) {
  EXPECT_EQ(BreakpointText(SampleSoftwareBreakpoint()),
            "breakpoint: 4\n"
            "kind:       sw\n"
            "address:    0x100c24\n"
            "length:     1\n"
            "mode:       trace\n"
            "slot:       -\n"
            "mechanism:  INT3 patch\n"
            "hits:       0\n");
}

TEST(BreakpointListText, AlignedTable) {
  v1::ListBreakpointsResponse list;
  *list.add_breakpoints() = SampleBreakpoint();
  *list.add_breakpoints() = SampleSoftwareBreakpoint();
  EXPECT_EQ(BreakpointListText(list),
            "ID  KIND  ADDRESS   LEN  MODE   SLOT  HITS  LOCATION       MECHANISM\n"
            "1   exec  0x100c10  1    stop   DR0   3     kcounter_loop  debug register DR0\n"
            "4   sw    0x100c24  1    trace  -     0     -              INT3 patch\n");
}

TEST(BreakpointListText, NoBreakpoints) {
  EXPECT_EQ(BreakpointListText(v1::ListBreakpointsResponse()), "no breakpoints\n");
}

TEST(BreakpointRemovedText, NamesTheBreakpointAndVm) {
  EXPECT_EQ(BreakpointRemovedText("vm-7", 3), "removed breakpoint 3 of vm-7\n");
}

TEST(StepText, KeyValueLines) {
  EXPECT_EQ(StepText(SampleStep()),
            "vcpu:       0\n"
            "steps:      3\n"
            "rip:        0x100880\n"
            "reason:     single-step\n"
            "last event: #15\n");
}

TEST(EventRecordText, BreakpointEventOnOneLine) {
  EXPECT_EQ(EventRecordText(SampleEventRecord()),
            "#12 vcpu 0 hw-breakpoint bp 1 rip 0x100c10 dr6 0xffff0ff1 dr7 0x401 stopped\n");
}

TEST(EventRecordText, TracedWatchpointShowsTheAccessedAddress) {
  EXPECT_EQ(EventRecordText(SampleWatchpointRecord()),
            "#13 vcpu 1 watchpoint bp 2 rip 0x100c2b addr 0xffff800000001008 dr6 0xffff0ff4 "
            "dr7 0xd00421 traced\n");
}

TEST(EventRecordText, PageWatchShowsTheAccessAndItsValues) {
  v1::EventRecord record = SampleWatchpointRecord();
  v1::WatchAccess* access = record.mutable_event()->mutable_access();
  access->set_length(8);
  access->set_is_write(true);
  access->set_old_value(41);
  access->set_new_value(42);
  EXPECT_EQ(EventRecordText(record),
            "#13 vcpu 1 watchpoint bp 2 rip 0x100c2b addr 0xffff800000001008 write 8 0x29 -> 0x2a "
            "dr6 0xffff0ff4 dr7 0xd00421 traced\n");
  access->set_is_write(false);
  EXPECT_THAT(EventRecordText(record), HasSubstr(" addr 0xffff800000001008 read 8 0x2a dr6 "));
}

TEST(EventRecordText, PlainStepHasNoBreakpoint) {
  v1::EventRecord record = SampleEventRecord();
  record.mutable_event()->set_kind(v1::EVENT_KIND_SINGLE_STEP);
  record.mutable_event()->set_breakpoint_id(0);
  record.mutable_event()->set_dr6(0xffff4ff0);
  EXPECT_EQ(EventRecordText(record),
            "#12 vcpu 0 single-step rip 0x100c10 dr6 0xffff4ff0 dr7 0x401 stopped\n");
}

TEST(EventRecordText, GapSaysHowManyAndWhich) {
  EXPECT_EQ(EventRecordText(SampleGapRecord(100, 57)), "-- 57 events lost (#100..#156) --\n");
  EXPECT_EQ(EventRecordText(SampleGapRecord(7, 1)), "-- 1 event lost (#7) --\n");
}

TEST(EventRecordText, EmptyRecordPrintsNothing) {
  EXPECT_EQ(EventRecordText(v1::EventRecord()), "");
}

TEST(RegistersText, GdbLikeDump) {
  EXPECT_EQ(RegistersText(SampleRegisters()),
            "vcpu 0\n"
            "rax     0x0000000000000040  64\n"
            "rbx     0x0000000000000000  0\n"
            "rcx     0x0010000000000000  4503599627370496\n"
            "rdx     0x000000000000080f  2063\n"
            "rsi     0x0000000000000001  1\n"
            "rdi     0x0000000000000000  0\n"
            "rsp     0x0000000003ffffc8  67108808\n"
            "rbp     0x0000000003ffffd0  67108816\n"
            "r8      0xffff00ffffffffff  18446463698244468735\n"
            "r9      0x0000000000101000  1052672\n"
            "r10     0x000000000000001a  26\n"
            "r11     0x0000000000000000  0\n"
            "r12     0x0000000000000001  1\n"
            "r13     0x0000000000000000  0\n"
            "r14     0x0000000000000000  0\n"
            "r15     0x0000000000000000  0\n"
            "rip     0x0000000000100c10\n"
            "rflags  0x0000000000003246  [ PF ZF IF IOPL=3 ]\n"
            "\n"
            "seg  selector  base                limit       type  dpl  flags\n"
            "cs   0x0010    0x0000000000000000  0xffffffff  0xb   0    P L G\n"
            "ds   0x0000    0x0000000000000000  0x0         0x0   0    -\n"
            "es   0x0000    0x0000000000000000  0x0         0x0   0    -\n"
            "fs   0x0000    0x0000000000000000  0x0         0x0   0    -\n"
            "gs   0x0000    0x0000000000000000  0x0         0x0   0    -\n"
            "ss   0x0018    0x0000000000000000  0xffffffff  0x3   0    P DB G\n"
            "tr   0x0040    0x0000000000101050  0x4fb0      0xb   0    P sys\n"
            "ldt  0x0000    0x0000000000000000  0x0         0x0   0    -\n"
            "\n"
            "gdt   base 0x0000000000101000  limit 0x4f\n"
            "idt   base 0x0000000000106060  limit 0x80f\n"
            "cr0   0x0000000080050033\n"
            "cr2   0x0000000000000000\n"
            "cr3   0x0000000000001000\n"
            "cr4   0x0000000000000620\n"
            "cr8   0x0000000000000000\n"
            "efer  0x0000000000000d01\n"
            "dr0   0x0000000000100c10\n"
            "dr1   0x0000000000000000\n"
            "dr2   0x0000000000000000\n"
            "dr3   0x0000000000000000\n"
            "dr6   0x00000000ffff0ff0\n"
            "dr7   0x0000000000000401\n");
}

TEST(RegistersText, NoFlagsSet) {
  v1::Registers registers = SampleRegisters();
  registers.mutable_general()->set_rflags(0x2);  // bit 1 is reserved (always one)
  EXPECT_THAT(RegistersText(registers), HasSubstr("rflags  0x0000000000000002  [ ]\n"));
}

TEST(MemoryText, HexDumpWithAddressesAndAscii) {
  EXPECT_EQ(MemoryText(SampleMemory()),
            "0000000000100c10  55 bf a4 0d 10 00 48 89  e5 e8 62 fc ff ff 66 90  "
            "|U.....H...b...f.|\n"
            "0000000000100c20  41 42 7e 7f                                       |AB~.|\n");
}

TEST(MemoryText, ExactlyOneLine) {
  v1::MemoryData memory;
  memory.set_address(0);
  memory.set_data(std::string(16, 'a'));
  EXPECT_EQ(MemoryText(memory),
            "0000000000000000  61 61 61 61 61 61 61 61  61 61 61 61 61 61 61 61  "
            "|aaaaaaaaaaaaaaaa|\n");
}

TEST(MemoryText, NothingToDump) { EXPECT_EQ(MemoryText(v1::MemoryData()), ""); }

// --- JSON ---------------------------------------------------------------------------

TEST(DebugStateJson, MapsEveryField) {
  const Json expected = Json::parse(R"({
    "name": "vm-7",
    "enabled": true,
    "stop_mode": "all_stop",
    "address_rule": "the module drops breakpoints on host-kernel addresses",
    "requested_dr7": 13632545,
    "effective_dr7": 1025,
    "slots": [
      {"index": 0, "in_use": true, "breakpoint_id": 1, "address": 1051664,
       "requested_dr7": 1, "effective_dr7": 1, "page_protection": false},
      {"index": 1, "in_use": false, "breakpoint_id": 0, "address": 0,
       "requested_dr7": 0, "effective_dr7": 0, "page_protection": false},
      {"index": 2, "in_use": true, "breakpoint_id": 2, "address": 18446603336221200384,
       "requested_dr7": 13631520, "effective_dr7": 0, "page_protection": false},
      {"index": 3, "in_use": false, "breakpoint_id": 0, "address": 0,
       "requested_dr7": 0, "effective_dr7": 0, "page_protection": false}
    ],
    "software_breakpoints": 0,
    "mechanisms": ["execute breakpoints: debug registers DR0-DR3", "watchpoints: page protection"],
    "last_event": 12,
    "vcpus": [
      {"id": 0, "stopped": true, "reason": "hw-breakpoint 1", "rip": 1051664, "last_event": 12},
      {"id": 1, "stopped": false, "reason": "", "rip": 0, "last_event": 0}
    ]
  })");
  const Json json = DebugStateJson(SampleDebugState());
  EXPECT_EQ(json, expected) << json.dump(2);
  // Exact above 2^53: parsed back as an unsigned integer, not a double.
  EXPECT_EQ(json["slots"][2]["address"].get<uint64_t>(), 0xffff800000001000);
}

TEST(DebugStateJson, EmptyStateHasTheSameKeysInTheSameOrder) {
  const Json empty = DebugStateJson(v1::DebugState());
  EXPECT_EQ(Keys(empty), Keys(DebugStateJson(SampleDebugState())));
  EXPECT_TRUE(empty["slots"].is_array());
  EXPECT_TRUE(empty["vcpus"].is_array());
  EXPECT_EQ(empty["stop_mode"], "all_stop");
}

TEST(BreakpointJson, MapsEveryField) {
  EXPECT_EQ(BreakpointJson(SampleBreakpoint()), Json::parse(R"({
    "id": 1, "kind": "exec", "address": 1051664, "length": 1, "trace": false,
    "location": "kcounter_loop", "slot": 0, "hits": 3, "mechanism": "debug register DR0"
  })"));
  const Json software = BreakpointJson(SampleSoftwareBreakpoint());
  EXPECT_EQ(software["kind"], "sw");
  EXPECT_EQ(software["slot"], -1);
  EXPECT_EQ(software["trace"], true);
}

TEST(BreakpointListJson, ListsUnderBreakpoints) {
  v1::ListBreakpointsResponse list;
  EXPECT_EQ(BreakpointListJson(list), Json::parse(R"({"breakpoints": []})"));
  *list.add_breakpoints() = SampleBreakpoint();
  const Json json = BreakpointListJson(list);
  ASSERT_EQ(json["breakpoints"].size(), 1u);
  EXPECT_EQ(json["breakpoints"][0], BreakpointJson(SampleBreakpoint()));
}

TEST(BreakpointRemovedJson, NameIdRemoved) {
  EXPECT_EQ(BreakpointRemovedJson("vm-7", 3),
            Json::parse(R"({"name": "vm-7", "id": 3, "removed": true})"));
}

TEST(StepJson, MapsEveryField) {
  EXPECT_EQ(StepJson(SampleStep()), Json::parse(R"({
    "vcpu": 0, "steps": 3, "rip": 1050752, "reason": "single-step", "last_event": 15
  })"));
}

TEST(EventRecordJson, EventWithoutAddressHasNull) {
  const Json json = EventRecordJson(SampleEventRecord());
  EXPECT_EQ(json, Json::parse(R"({
    "type": "event", "sequence": 12, "vm": "vm-7", "vcpu": 0, "kind": "hw_breakpoint",
    "vector": 1, "rip": 1051664, "dr6": 4294905841, "dr7": 1025, "breakpoint_id": 1,
    "address": null, "access": null, "timestamp_unix_ns": 1732526100123456789, "stopped": true
  })"))
      << json.dump();
  EXPECT_EQ(json["timestamp_unix_ns"].get<int64_t>(), kEventUnixNs);
}

TEST(EventRecordJson, PageWatchCarriesTheAccess) {
  v1::EventRecord record = SampleWatchpointRecord();
  v1::WatchAccess* access = record.mutable_event()->mutable_access();
  access->set_length(4);
  access->set_is_write(true);
  access->set_old_value(7);
  access->set_new_value(8);
  EXPECT_EQ(EventRecordJson(record)["access"],
            Json::parse(R"({"length": 4, "is_write": true, "old_value": 7, "new_value": 8})"));
}

TEST(EventRecordJson, WatchpointCarriesTheExactAddress) {
  const Json json = EventRecordJson(SampleWatchpointRecord());
  EXPECT_EQ(json["kind"], "watchpoint");
  EXPECT_EQ(json["address"].get<uint64_t>(), 0xffff800000001008);
  EXPECT_EQ(json["stopped"], false);
  EXPECT_EQ(Keys(json), Keys(EventRecordJson(SampleEventRecord())));
}

TEST(EventRecordJson, Gap) {
  EXPECT_EQ(EventRecordJson(SampleGapRecord(100, 57)),
            Json::parse(R"({"type": "gap", "first_lost": 100, "lost": 57})"));
}

TEST(EventRecordJson, EmptyRecordIsNull) {
  EXPECT_TRUE(EventRecordJson(v1::EventRecord()).is_null());
}

TEST(RegistersJson, GeneralSpecialAndDebug) {
  const Json json = RegistersJson(SampleRegisters());
  EXPECT_EQ(Keys(json), (std::vector<std::string>{"vcpu", "general", "special", "debug"}));
  EXPECT_EQ(
      Keys(json["general"]),
      (std::vector<std::string>{"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8", "r9",
                                "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags"}));
  EXPECT_EQ(json["general"]["r8"].get<uint64_t>(), 0xffff00ffffffffff);
  EXPECT_EQ(json["general"]["rip"], 0x100c10);
  EXPECT_EQ(Keys(json["special"]),
            (std::vector<std::string>{"cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt", "gdt", "idt",
                                      "cr0", "cr2", "cr3", "cr4", "cr8", "efer"}));
  EXPECT_EQ(json["special"]["cs"], Json::parse(R"({
    "selector": 16, "base": 0, "limit": 4294967295, "type": 11, "dpl": 0, "present": true,
    "long_mode": true, "default_big": false, "granularity": true, "system": false
  })"));
  EXPECT_EQ(json["special"]["gdt"], Json::parse(R"({"base": 1052672, "limit": 79})"));
  EXPECT_EQ(json["special"]["efer"], 0xd01);
  EXPECT_EQ(json["debug"], Json::parse(R"({"db": [1051664, 0, 0, 0], "dr6": 4294905840,
                                           "dr7": 1025})"));
}

TEST(RegistersJson, UnsetGeneralRegistersAreNull) {
  const Json json = RegistersJson(v1::Registers());
  EXPECT_TRUE(json["general"]["rax"].is_null());
  EXPECT_TRUE(json["debug"]["db"].is_array());
}

TEST(MemoryJson, AddressLengthAndLowercaseHex) {
  EXPECT_EQ(MemoryJson(SampleMemory()), Json::parse(R"({
    "address": 1051664, "length": 20, "hex": "55bfa40d10004889e5e862fcffff669041427e7f"
  })"));
}

TEST(DumpJsonLine, OneLineEndingInANewline) {
  const std::string line = DumpJsonLine(EventRecordJson(SampleGapRecord(1, 2)));
  EXPECT_EQ(line, "{\"type\":\"gap\",\"first_lost\":1,\"lost\":2}\n");
  const std::string event = DumpJsonLine(EventRecordJson(SampleEventRecord()));
  EXPECT_EQ(event.find('\n'), event.size() - 1);
  EXPECT_THAT(event, Not(HasSubstr("  ")));
}

// --- enum words -----------------------------------------------------------------------

TEST(EnumNames, DebugWords) {
  EXPECT_EQ(StopModeName(v1::STOP_MODE_UNSPECIFIED), "all_stop");
  EXPECT_EQ(StopModeName(v1::STOP_MODE_ALL_STOP), "all_stop");
  EXPECT_EQ(StopModeName(v1::STOP_MODE_TRACE), "trace");
  EXPECT_EQ(BreakpointKindName(v1::BREAKPOINT_KIND_UNSPECIFIED), "exec");
  EXPECT_EQ(BreakpointKindName(v1::BREAKPOINT_KIND_EXEC), "exec");
  EXPECT_EQ(BreakpointKindName(v1::BREAKPOINT_KIND_WRITE), "write");
  EXPECT_EQ(BreakpointKindName(v1::BREAKPOINT_KIND_READ_WRITE), "rw");
  EXPECT_EQ(BreakpointKindName(v1::BREAKPOINT_KIND_SOFTWARE), "sw");
  EXPECT_EQ(EventKindName(v1::EVENT_KIND_UNSPECIFIED), "unspecified");
  EXPECT_EQ(EventKindName(v1::EVENT_KIND_HW_BREAKPOINT), "hw_breakpoint");
  EXPECT_EQ(EventKindName(v1::EVENT_KIND_WATCHPOINT), "watchpoint");
  EXPECT_EQ(EventKindName(v1::EVENT_KIND_SW_BREAKPOINT), "sw_breakpoint");
  EXPECT_EQ(EventKindName(v1::EVENT_KIND_SINGLE_STEP), "single_step");
  EXPECT_EQ(AddressSpaceName(v1::ADDRESS_SPACE_UNSPECIFIED), "virtual");
  EXPECT_EQ(AddressSpaceName(v1::ADDRESS_SPACE_PHYSICAL), "physical");
  EXPECT_EQ(StopModeName(static_cast<v1::StopMode>(99)), "unknown");
  EXPECT_EQ(BreakpointKindName(static_cast<v1::BreakpointKind>(99)), "unknown");
  EXPECT_EQ(EventKindName(static_cast<v1::EventKind>(99)), "unknown");
  EXPECT_EQ(AddressSpaceName(static_cast<v1::AddressSpace>(99)), "unknown");
}

TEST(EnumNames, EveryKnownDebugEnumeratorHasAName) {
  for (int i = v1::StopMode_MIN; i <= v1::StopMode_MAX; ++i) {
    EXPECT_NE(StopModeName(static_cast<v1::StopMode>(i)), "unknown") << i;
  }
  for (int i = v1::BreakpointKind_MIN; i <= v1::BreakpointKind_MAX; ++i) {
    EXPECT_NE(BreakpointKindName(static_cast<v1::BreakpointKind>(i)), "unknown") << i;
  }
  for (int i = v1::EventKind_MIN; i <= v1::EventKind_MAX; ++i) {
    EXPECT_NE(EventKindName(static_cast<v1::EventKind>(i)), "unknown") << i;
  }
  for (int i = v1::AddressSpace_MIN; i <= v1::AddressSpace_MAX; ++i) {
    EXPECT_NE(AddressSpaceName(static_cast<v1::AddressSpace>(i)), "unknown") << i;
  }
}

}  // namespace
}  // namespace pvm::ctl
