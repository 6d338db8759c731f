#include "client/format_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "client/enum_names.h"
#include "tests/unit/client/sample_messages.h"

namespace pvm::ctl {
namespace {

using ::pvm::testing::kCreatedUnixMs;
using ::pvm::testing::SampleFailedVm;
using ::pvm::testing::SampleHostInfo;
using ::pvm::testing::SampleRunningVm;
using ::testing::ElementsAre;

std::vector<std::string> Keys(const Json& object) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.push_back(key);
  return keys;
}

TEST(HostInfoJson, MapsEveryField) {
  const Json expected = Json::parse(R"({
    "daemon_version": "0.1.0",
    "kernel_release": "6.7.0-pvm",
    "module": {
      "name": "kvm_pvm",
      "state": "builtin",
      "detail": "/sys/module/kvm_pvm exists without initstate",
      "parameters": {"nx_huge_pages": "N", "enable_pcid": "Y"}
    },
    "kvm": {
      "api_version": 12,
      "max_vcpus": 1024,
      "guest_debug": true,
      "guest_debug2": 0,
      "num_debug_registers": 4,
      "readonly_mem": true,
      "sync_regs": 7
    },
    "debug_capabilities": {
      "probed": true,
      "error": "",
      "native": {"hw_exec_breakpoint": "none", "single_step": "guest_idt",
                 "write_watchpoint": "none", "int3": "guest_idt"},
      "emulated": {"hw_exec_breakpoint": "debug_exit", "single_step": "debug_exit",
                   "write_watchpoint": "none", "int3": "emulation_failure"},
      "address_rule": "none",
      "address_rule_known": true,
      "address_rule_evidence": "a host-half breakpoint fired",
      "duration_us": 2560,
      "checks_duration_us": 1200,
      "summary": ["native code: no debug exits", "emulated code: debug exits"],
      "notes": []
    }
  })");
  EXPECT_EQ(HostInfoJson(SampleHostInfo()), expected) << HostInfoJson(SampleHostInfo()).dump(2);
}

TEST(HostInfoJson, EmptyInfoHasTheSameKeys) {
  const Json full = HostInfoJson(SampleHostInfo());
  const Json empty = HostInfoJson(v1::HostInfo());
  EXPECT_EQ(Keys(empty), Keys(full));
  EXPECT_EQ(Keys(empty["module"]), Keys(full["module"]));
  EXPECT_EQ(Keys(empty["kvm"]), Keys(full["kvm"]));
  EXPECT_EQ(Keys(empty["debug_capabilities"]), Keys(full["debug_capabilities"]));
  EXPECT_EQ(empty["debug_capabilities"]["native"]["int3"], "unspecified");
  EXPECT_EQ(empty["module"]["state"], "unspecified");
  EXPECT_TRUE(empty["module"]["parameters"].is_object());
  EXPECT_EQ(empty["kvm"]["guest_debug"], false);
}

TEST(VmJson, MapsEveryFieldWithNumbersAsNumbers) {
  const Json expected = Json::parse(R"({
    "name": "vm-7",
    "state": "running",
    "failure": "",
    "vcpus": 2,
    "memory_mib": 64,
    "image": "builtin:counter",
    "entry_point": 1048576,
    "console_bytes": 1234,
    "created_unix_ms": 1732526100123,
    "vcpu_info": [
      {"id": 0, "state": "running", "exits": 42, "rip": 1048592},
      {"id": 1, "state": "halted", "exits": 3, "rip": 18446744071578845184}
    ]
  })");
  const Json vm = VmJson(SampleRunningVm());
  EXPECT_EQ(vm, expected) << vm.dump(2);
  // Exactly, as an unsigned 64-bit integer, not a rounded double.
  ASSERT_TRUE(vm["vcpu_info"][1]["rip"].is_number_unsigned());
  EXPECT_EQ(vm["vcpu_info"][1]["rip"].get<uint64_t>(), 0xffffffff81000000u);
  EXPECT_EQ(vm["created_unix_ms"].get<int64_t>(), kCreatedUnixMs);
}

TEST(VmJson, FailedVmCarriesTheFailure) {
  const Json vm = VmJson(SampleFailedVm());
  EXPECT_EQ(vm["state"], "failed");
  EXPECT_EQ(vm["failure"], "triple fault (shutdown) on vcpu 0 at rip 0x200123");
}

TEST(VmJson, EmptyVmHasTheSameKeysInTheSameOrder) {
  const Json empty = VmJson(v1::Vm());
  EXPECT_THAT(Keys(empty),
              ElementsAre("name", "state", "failure", "vcpus", "memory_mib", "image", "entry_point",
                          "console_bytes", "created_unix_ms", "vcpu_info"));
  EXPECT_EQ(empty["state"], "unspecified");
  EXPECT_TRUE(empty["vcpu_info"].is_array());
}

TEST(VmListJson, ListsVmsUnderVms) {
  v1::ListVmsResponse list;
  *list.add_vms() = SampleRunningVm();
  *list.add_vms() = SampleFailedVm();
  const Json json = VmListJson(list);
  EXPECT_THAT(Keys(json), ElementsAre("vms"));
  ASSERT_EQ(json["vms"].size(), 2u);
  EXPECT_EQ(json["vms"][0], VmJson(SampleRunningVm()));
  EXPECT_EQ(json["vms"][1], VmJson(SampleFailedVm()));
}

TEST(VmListJson, NoVmsIsAnEmptyArray) {
  EXPECT_EQ(DumpJson(VmListJson(v1::ListVmsResponse())), "{\n  \"vms\": []\n}\n");
}

TEST(VmDeletedJson, NameAndDeleted) {
  EXPECT_EQ(VmDeletedJson("vm-7"), Json::parse(R"({"name": "vm-7", "deleted": true})"));
}

TEST(DumpJson, OneIndentedDocumentEndingInANewline) {
  v1::Vm vm;
  vm.set_name("a");
  EXPECT_EQ(DumpJson(VmJson(vm)),
            "{\n"
            "  \"name\": \"a\",\n"
            "  \"state\": \"unspecified\",\n"
            "  \"failure\": \"\",\n"
            "  \"vcpus\": 0,\n"
            "  \"memory_mib\": 0,\n"
            "  \"image\": \"\",\n"
            "  \"entry_point\": 0,\n"
            "  \"console_bytes\": 0,\n"
            "  \"created_unix_ms\": 0,\n"
            "  \"vcpu_info\": []\n"
            "}\n");
}

TEST(DumpJson, InvalidUtf8IsReplacedNotThrown) {
  EXPECT_EQ(DumpJson(Json{{"s", "a\xff"}}), "{\n  \"s\": \"a\xef\xbf\xbd\"\n}\n");
}

TEST(EnumNames, VmStates) {
  EXPECT_EQ(VmStateName(v1::VM_STATE_UNSPECIFIED), "unspecified");
  EXPECT_EQ(VmStateName(v1::VM_STATE_CREATED), "created");
  EXPECT_EQ(VmStateName(v1::VM_STATE_RUNNING), "running");
  EXPECT_EQ(VmStateName(v1::VM_STATE_PAUSED), "paused");
  EXPECT_EQ(VmStateName(v1::VM_STATE_STOPPED), "stopped");
  EXPECT_EQ(VmStateName(v1::VM_STATE_FAILED), "failed");
  EXPECT_EQ(VmStateName(static_cast<v1::VmState>(99)), "unknown");
}

TEST(EnumNames, ModuleStates) {
  EXPECT_EQ(ModuleStateName(v1::MODULE_STATE_UNSPECIFIED), "unspecified");
  EXPECT_EQ(ModuleStateName(v1::MODULE_STATE_BUILTIN), "builtin");
  EXPECT_EQ(ModuleStateName(v1::MODULE_STATE_LOADED), "loaded");
  EXPECT_EQ(ModuleStateName(v1::MODULE_STATE_ABSENT), "absent");
  EXPECT_EQ(ModuleStateName(v1::MODULE_STATE_LOAD_FAILED), "load_failed");
  EXPECT_EQ(ModuleStateName(static_cast<v1::ModuleState>(99)), "unknown");
}

TEST(EnumNames, EveryKnownEnumeratorHasAName) {
  // A value added to the proto without a name here would print "unknown".
  for (int i = v1::VmState_MIN; i <= v1::VmState_MAX; ++i) {
    EXPECT_NE(VmStateName(static_cast<v1::VmState>(i)), "unknown") << i;
  }
  for (int i = v1::ModuleState_MIN; i <= v1::ModuleState_MAX; ++i) {
    EXPECT_NE(ModuleStateName(static_cast<v1::ModuleState>(i)), "unknown") << i;
  }
}

}  // namespace
}  // namespace pvm::ctl
