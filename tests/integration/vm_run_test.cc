// Built-in guests on the real kvm-pvm: what they print, how they end, and what
// pause, resume and delete do to them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "daemon/vmm/kvm.h"
#include "daemon/vmm/vm_registry.h"
#include "tests/integration/guest_harness.h"
#include "tests/integration/guest_test.h"
#include "tests/support/kvm_required.h"

namespace pvm::testing {
namespace {

using ::testing::HasSubstr;
using vmm::VmState;

class VmRunTest : public GuestTest {};

TEST_F(VmRunTest, HelloPrintsItsLineAtCpl3AndHalts) {
  std::shared_ptr<vmm::Vm> vm = StartGuest("hello", "hello");
  ASSERT_NE(vm, nullptr);
  ASSERT_EQ(WaitForVmState(*vm, VmState::kStopped), VmState::kStopped) << vm->Snapshot().failure;
  EXPECT_EQ(vm->console().ReadFrom(0).data, "hello from pvm guest: vcpu 0 of 1, cpl 3\n");
  EXPECT_EQ(vm->Snapshot().vcpu_snapshots.at(0).state, vmm::VcpuState::kHalted);
}

TEST_F(VmRunTest, HelloCountsEveryVcpuButOnlyTheFirstPrints) {
  std::shared_ptr<vmm::Vm> vm = StartGuest("hello3", "hello", 3);
  ASSERT_NE(vm, nullptr);
  ASSERT_EQ(WaitForVmState(*vm, VmState::kStopped), VmState::kStopped) << vm->Snapshot().failure;
  EXPECT_EQ(vm->console().ReadFrom(0).data, "hello from pvm guest: vcpu 0 of 3, cpl 3\n");
}

TEST_F(VmRunTest, CounterRunsNativelyAndCountsInGuestMemory) {
  std::shared_ptr<vmm::Vm> vm = StartGuest("counter", "counter");
  ASSERT_NE(vm, nullptr);
  const std::string console = WaitForConsole(*vm, "counter: 268435456\n");
  EXPECT_THAT(console, ::testing::StartsWith("counter: start\ncounter: 268435456\n"));
  absl::StatusOr<uint64_t> value = ReadGuestU64(*vm, "counter_value");
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_GE(*value, uint64_t{1} << 28);
  EXPECT_EQ(vm->state(), VmState::kRunning);
}

TEST_F(VmRunTest, KcounterRunsInTheEmulatorAtCpl0) {
  std::shared_ptr<vmm::Vm> vm = StartGuest("kcounter", "kcounter");
  ASSERT_NE(vm, nullptr);
  const std::string console = WaitForConsole(*vm, "kcounter: 16384\n");
  EXPECT_THAT(console, ::testing::StartsWith("kcounter: start\nkcounter: 16384\n"));
  absl::StatusOr<uint64_t> value = ReadGuestU64(*vm, "counter_value");
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_GE(*value, uint64_t{16384});
}

TEST_F(VmRunTest, SmpRunsEveryVcpu) {
  constexpr uint32_t kVcpus = 4;
  std::shared_ptr<vmm::Vm> vm = StartGuest("smp", "smp", kVcpus);
  ASSERT_NE(vm, nullptr);
  for (uint32_t id = 0; id < kVcpus; ++id) {
    const std::string progress = absl::StrCat("smp: vcpu ", id, " at 268435456\n");
    const std::string console = WaitForConsole(*vm, progress);
    EXPECT_THAT(console, HasSubstr(absl::StrCat("smp: vcpu ", id, " up\n")));
    EXPECT_THAT(console, HasSubstr(progress));
    absl::StatusOr<uint64_t> value = ReadGuestU64(*vm, "smp_counters", id * 8);
    ASSERT_TRUE(value.ok()) << value.status();
    EXPECT_GE(*value, uint64_t{1} << 28) << "vCPU " << id;
  }
  for (const vmm::VcpuSnapshot& vcpu : vm->Snapshot().vcpu_snapshots) {
    EXPECT_EQ(vcpu.state, vmm::VcpuState::kRunning) << "vCPU " << vcpu.id;
  }
}

TEST_F(VmRunTest, PauseStopsTheGuestAndResumeRestartsIt) {
  std::shared_ptr<vmm::Vm> vm = StartGuest("pause", "counter");
  ASSERT_NE(vm, nullptr);
  WaitForConsole(*vm, "counter: 268435456\n");

  ASSERT_TRUE(vm->Pause().ok());
  EXPECT_EQ(vm->state(), VmState::kPaused);
  EXPECT_EQ(vm->Snapshot().vcpu_snapshots.at(0).state, vmm::VcpuState::kParked);
  const uint64_t paused_at = *ReadGuestU64(*vm, "counter_value");
  const uint64_t exits_at_pause = vm->Snapshot().vcpu_snapshots.at(0).exits;
  // An observation window, not synchronisation: running natively, the guest would
  // count about 10^8 in this time.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(*ReadGuestU64(*vm, "counter_value"), paused_at);
  EXPECT_EQ(vm->Snapshot().vcpu_snapshots.at(0).exits, exits_at_pause);
  EXPECT_EQ(vm->Pause().code(), absl::StatusCode::kFailedPrecondition);

  ASSERT_TRUE(vm->Resume().ok());
  EXPECT_EQ(vm->state(), VmState::kRunning);
  EXPECT_EQ(vm->Snapshot().vcpu_snapshots.at(0).state, vmm::VcpuState::kRunning)
      << "Resume returns once the vCPU thread is running again";
  // Progress after resume: the next multiple of 2^28 gets printed.
  const uint64_t next = ((paused_at >> 28) + 1) << 28;
  WaitForConsole(*vm, absl::StrCat("counter: ", next, "\n"));
  EXPECT_GT(*ReadGuestU64(*vm, "counter_value"), paused_at);
  EXPECT_EQ(vm->Resume().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(VmRunTest, PauseAndResumeAnSmpGuestRepeatedly) {
  std::shared_ptr<vmm::Vm> vm = StartGuest("smp-pause", "smp", 4);
  ASSERT_NE(vm, nullptr);
  WaitForConsole(*vm, "smp: vcpu 3 up\n");
  for (int round = 0; round < 20; ++round) {
    ASSERT_TRUE(vm->Pause().ok()) << "round " << round;
    for (const vmm::VcpuSnapshot& vcpu : vm->Snapshot().vcpu_snapshots) {
      ASSERT_EQ(vcpu.state, vmm::VcpuState::kParked) << "round " << round << " vCPU " << vcpu.id;
    }
    ASSERT_TRUE(vm->Resume().ok()) << "round " << round;
  }
  EXPECT_EQ(vm->state(), VmState::kRunning);
}

TEST_F(VmRunTest, TripleFaultFailsOnlyThatVm) {
  std::shared_ptr<vmm::Vm> bystander = StartGuest("bystander", "kcounter");
  ASSERT_NE(bystander, nullptr);
  WaitForConsole(*bystander, "kcounter: start\n");

  std::shared_ptr<vmm::Vm> vm = StartGuest("fault", "fault");
  ASSERT_NE(vm, nullptr);
  ASSERT_EQ(WaitForVmState(*vm, VmState::kFailed), VmState::kFailed);
  EXPECT_EQ(vm->console().ReadFrom(0).data, "fault: about to triple fault\n");
  EXPECT_THAT(vm->Snapshot().failure, HasSubstr("triple fault"));
  EXPECT_EQ(vm->Start().code(), absl::StatusCode::kFailedPrecondition);

  // The other VM goes on printing after the fault.
  const uint64_t before = bystander->console().total_written();
  // The next report past where the bystander is now: on a host that runs CPL0 code
  // natively (the SVM host) an earlier line may already be there.
  const uint64_t now = *ReadGuestU64(*bystander, "counter_value");
  const std::string next = absl::StrCat("kcounter: ", ((now >> 14) + 1) << 14, "\n");
  const std::string after = WaitForConsole(*bystander, next);
  EXPECT_EQ(bystander->state(), VmState::kRunning);
  EXPECT_GT(bystander->console().total_written(), before);
}

TEST_F(VmRunTest, DeletingRunningVmsLeavesNoThreadOrFdBehind) {
  // One VM first, so one-time process state (signal handler, gRPC-free libs) is set up.
  StartGuest("warmup", "hello");
  ASSERT_TRUE(registry_->Delete("warmup").ok());
  const int fds_before = CountOpenFds();
  const int threads_before = CountThreads();
  {
    std::shared_ptr<vmm::Vm> smp = StartGuest("smp-del", "smp", 4);
    std::shared_ptr<vmm::Vm> counter = StartGuest("counter-del", "counter");
    ASSERT_NE(smp, nullptr);
    ASSERT_NE(counter, nullptr);
    WaitForConsole(*smp, "smp: vcpu 3 up\n");
    WaitForConsole(*counter, "counter: start\n");
    EXPECT_EQ(CountThreadsNamed("vcpu"), 5);
    ASSERT_TRUE(registry_->Delete("smp-del").ok());
    ASSERT_TRUE(registry_->Delete("counter-del").ok());
    EXPECT_EQ(registry_->Get("smp-del").status().code(), absl::StatusCode::kNotFound);
  }
  // KVM's own per-VM worker threads (kvm-nx-lpage-recovery) show up here too, and
  // they must be gone as well.
  EXPECT_EQ(CountThreads(), threads_before);
  EXPECT_EQ(CountThreadsNamed("vcpu"), 0);
  EXPECT_EQ(CountOpenFds(), fds_before);
}

TEST_F(VmRunTest, PinnedVcpuThreadsRunOnlyOnTheirCpus) {
  vmm::VmRequestSpec spec;
  spec.name = "pinned";
  spec.image = "builtin:smp";
  spec.vcpus = 2;
  spec.cpu_affinity = {0};
  absl::StatusOr<std::shared_ptr<vmm::Vm>> vm = registry_->Create(spec);
  ASSERT_TRUE(vm.ok()) << vm.status();
  ASSERT_TRUE((*vm)->Start().ok());
  WaitForConsole(**vm, "smp: vcpu 1 at 268435456\n");
  EXPECT_EQ(CpusAllowedOfThreadsNamed("vcpu"), std::vector<std::string>({"0", "0"}));
}

TEST_F(VmRunTest, ANonexistentCpuIsRefused) {
  vmm::VmRequestSpec spec;
  spec.name = "pinned-nowhere";
  spec.image = "builtin:hello";
  spec.cpu_affinity = {4095};
  absl::StatusOr<std::shared_ptr<vmm::Vm>> vm = registry_->Create(spec);
  EXPECT_EQ(vm.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(vm.status().message()), HasSubstr("host CPU 4095 does not exist"));
}

}  // namespace
}  // namespace pvm::testing
