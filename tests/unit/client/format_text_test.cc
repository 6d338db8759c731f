#include "client/format_text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/client/sample_messages.h"

namespace pvm::ctl {
namespace {

using ::pvm::testing::SampleFailedVm;
using ::pvm::testing::SampleHostInfo;
using ::pvm::testing::SampleRunningVm;

TEST(HostInfoText, KeyValueLines) {
  EXPECT_EQ(HostInfoText(SampleHostInfo()),
            "daemon version:     0.1.0\n"
            "kernel release:     6.7.0-pvm\n"
            "module:             kvm_pvm (builtin)\n"
            "module detail:      /sys/module/kvm_pvm exists without initstate\n"
            "module parameters:  nx_huge_pages=N enable_pcid=Y\n"
            "kvm api version:    12\n"
            "max vcpus:          1024\n"
            "guest debug:        yes\n"
            "guest debug2 flags: 0x0\n"
            "debug registers:    4\n"
            "read-only memory:   yes\n"
            "sync regs:          0x7\n"
            "debug probe:        native code: no debug exits\n"
            "debug probe:        emulated code: debug exits\n");
}

TEST(HostInfoText, EmptyInfoHasTheSameLines) {
  EXPECT_EQ(HostInfoText(v1::HostInfo()),
            "daemon version:     -\n"
            "kernel release:     -\n"
            "module:             - (unspecified)\n"
            "module detail:      -\n"
            "module parameters:  -\n"
            "kvm api version:    0\n"
            "max vcpus:          0\n"
            "guest debug:        no\n"
            "guest debug2 flags: 0x0\n"
            "debug registers:    0\n"
            "read-only memory:   no\n"
            "sync regs:          0x0\n"
            "debug probe:        -\n");
}

TEST(HostInfoText, AFailedProbeSaysWhy) {
  v1::HostInfo info = SampleHostInfo();
  v1::DebugCapabilities* debug = info.mutable_debug_capabilities();
  debug->Clear();
  debug->set_error("could not create the probe VM: ENOMEM");
  EXPECT_THAT(HostInfoText(info),
              ::testing::EndsWith("debug probe:        could not create the probe VM: ENOMEM\n"));
}

TEST(VmText, RunningVm) {
  EXPECT_EQ(VmText(SampleRunningVm()),
            "name:          vm-7\n"
            "state:         running\n"
            "vcpus:         2\n"
            "memory:        64 MiB\n"
            "image:         builtin:counter\n"
            "entry point:   0x100000\n"
            "console bytes: 1234\n"
            "created:       2024-11-25 09:15:00 UTC\n"
            "vcpu 0:        running, 42 exits, rip 0x100010\n"
            "vcpu 1:        halted, 3 exits, rip 0xffffffff81000000\n");
}

TEST(VmText, FailedVmShowsWhy) {
  EXPECT_EQ(VmText(SampleFailedVm()),
            "name:          vm-fault\n"
            "state:         failed\n"
            "failure:       triple fault (shutdown) on vcpu 0 at rip 0x200123\n"
            "vcpus:         1\n"
            "memory:        16 MiB\n"
            "image:         /var/lib/pvmd/images/fault.elf\n"
            "entry point:   0x200000\n"
            "console bytes: 0\n"
            "created:       2024-11-25 09:16:00 UTC\n"
            "vcpu 0:        failed, 1 exits, rip 0x200123\n");
}

TEST(VmListText, AlignedTable) {
  v1::ListVmsResponse list;
  *list.add_vms() = SampleRunningVm();
  *list.add_vms() = SampleFailedVm();
  v1::Vm* fresh = list.add_vms();
  fresh->set_name("a");
  fresh->set_state(v1::VM_STATE_CREATED);
  fresh->set_vcpus(1);
  EXPECT_EQ(
      VmListText(list),
      "NAME      STATE    VCPUS  MEMORY  IMAGE                           CREATED\n"
      "vm-7      running  2      64 MiB  builtin:counter                 2024-11-25 09:15:00 UTC\n"
      "vm-fault  failed   1      16 MiB  /var/lib/pvmd/images/fault.elf  2024-11-25 09:16:00 UTC\n"
      "a         created  1      0 MiB   -                               -\n");
}

TEST(VmListText, NoVms) { EXPECT_EQ(VmListText(v1::ListVmsResponse()), "no VMs\n"); }

TEST(VmDeletedText, NamesTheVm) { EXPECT_EQ(VmDeletedText("vm-7"), "deleted vm-7\n"); }

}  // namespace
}  // namespace pvm::ctl
