// The guests the debugger's tests stand on, on the real kvm-pvm: kstep (the stepping
// loop at CPL0, emulated), ustep (the same loop at CPL3, native) and selfdebug (a
// guest using INT3, its own DR0 and TF). What is checked here is what the debugger's
// tests take for granted: the symbols and their layout, which vCPU does what at which
// privilege level, the register conventions of the loop, and that selfdebug sees its
// own debug events exactly once each when nobody debugs it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/kvm.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

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

constexpr uint64_t kCounterStride = 8;     // uint64 elements per vCPU slot
constexpr uint64_t kRuntimeMaxVcpus = 64;  // PVM_MAX_VCPUS
constexpr uint64_t kPageSize = 4096;

// One flavour of the stepping loop: which guest, its symbol prefixes, its CPL.
struct StepGuest {
  std::string guest;
  std::string p;  // kstep / ustep
  std::string w;  // kwatch / uwatch
  unsigned cpl;
};

const StepGuest kKstep{"kstep", "kstep", "kwatch", 0};
const StepGuest kUstep{"ustep", "ustep", "uwatch", 3};

void PrintTo(const StepGuest& g, std::ostream* os) { *os << g.guest; }

class GuestDebugGuestsTest : public GuestTest {};

vmm::GuestSymbol Symbol(const vmm::Vm& vm, const std::string& name) {
  std::optional<vmm::GuestSymbol> s = vm.image().FindSymbol(name);
  EXPECT_TRUE(s.has_value()) << "no symbol " << name;
  return s.value_or(vmm::GuestSymbol{});
}

// Polls guest memory (the guest runs on its own; nothing to wait on but the value)
// until the uint64 at symbol[index] exceeds `above` or patience runs out; returns the
// last value read.
uint64_t WaitForGuestU64Above(vmm::Vm& vm, const std::string& symbol, uint64_t index,
                              uint64_t above) {
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (true) {
    absl::StatusOr<uint64_t> value = ReadGuestU64(vm, symbol, index);
    EXPECT_TRUE(value.ok()) << value.status();
    if (!value.ok() || *value > above || std::chrono::steady_clock::now() >= deadline) {
      return value.value_or(0);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// What a value counted once per pass at the loop instruction `site` holds when the
// vCPU stands at rip with loop count r14 (incremented at the loop head, so pass N
// has r14 == N): N once the site has run in this pass, N - 1 before. At the head
// itself the previous pass is complete and r14 still holds its number.
uint64_t CountedAt(uint64_t rip, uint64_t loop_start, uint64_t site, uint64_t r14) {
  return rip == loop_start || rip > site ? r14 : r14 - 1;
}

void ExpectRunsEveryVcpu(vmm::Vm& vm, const StepGuest& g, uint32_t vcpus) {
  std::string console;
  size_t up_lines_size = 0;
  for (uint32_t id = 0; id < vcpus; ++id) {
    const std::string up = absl::StrCat(g.guest, ": vcpu ", id, " up\n");
    console = WaitForConsole(vm, up);
    up_lines_size += up.size();
  }
  for (uint32_t id = 0; id < vcpus; ++id) {
    EXPECT_THAT(console, HasSubstr(absl::StrCat(g.guest, ": vcpu ", id, " up\n")));
  }

  const std::string counters = g.p + "_counters";
  for (uint32_t id = 0; id < vcpus; ++id) {
    const uint64_t first = WaitForGuestU64Above(vm, counters, id * kCounterStride, 0);
    EXPECT_GT(first, 0u) << "vCPU " << id << " never counted";
    const uint64_t later = WaitForGuestU64Above(vm, counters, id * kCounterStride, first);
    EXPECT_GT(later, first) << "vCPU " << id << " stopped counting";
  }
  // vCPU 0 stores its loop count to watched_value every pass, after counting.
  const uint64_t watched = WaitForGuestU64Above(vm, "watched_value", 0, 0);
  EXPECT_GT(watched, 0u);
  EXPECT_LE(watched, *ReadGuestU64(vm, counters, 0));

  // Pause, so registers and memory form one consistent picture per vCPU.
  ASSERT_TRUE(vm.Pause().ok());
  const vmm::GuestSymbol loop = Symbol(vm, g.p + "_loop");
  const vmm::GuestSymbol inc = Symbol(vm, g.p + "_inc");
  const vmm::GuestSymbol store = Symbol(vm, g.w + "_store");
  const vmm::GuestSymbol counters_sym = Symbol(vm, counters);
  const uint64_t watched_now = *ReadGuestU64(vm, "watched_value");
  for (uint32_t id = 0; id < vcpus; ++id) {
    SCOPED_TRACE(absl::StrCat(g.guest, " vCPU ", id));
    kvm_regs regs{};
    kvm_sregs sregs{};
    ASSERT_TRUE(vm.vcpus()
                    .at(id)
                    ->WithParked([&](vmm::VcpuFd& fd) -> absl::Status {
                      absl::StatusOr<kvm_regs> r = fd.GetRegs();
                      if (!r.ok()) return r.status();
                      absl::StatusOr<kvm_sregs> s = fd.GetSregs();
                      if (!s.ok()) return s.status();
                      regs = *r;
                      sregs = *s;
                      return absl::OkStatus();
                    })
                    .ok());
    EXPECT_GE(regs.rip, loop.address);
    EXPECT_LT(regs.rip, loop.address + loop.size);
    EXPECT_EQ(sregs.cs.selector & 3u, g.cpl);
    EXPECT_EQ(regs.r13, id);
    EXPECT_EQ(regs.r15, counters_sym.address + id * kCounterStride * sizeof(uint64_t));
    EXPECT_EQ(*ReadGuestU64(vm, counters, id * kCounterStride),
              CountedAt(regs.rip, loop.address, inc.address, regs.r14))
        << "rip 0x" << std::hex << regs.rip;
    if (id == 0) {
      EXPECT_EQ(watched_now, CountedAt(regs.rip, loop.address, store.address, regs.r14))
          << "rip 0x" << std::hex << regs.rip;
    }
  }
  // The loop itself never prints: only the "up" lines, even after all that running.
  EXPECT_EQ(vm.console().total_written(), up_lines_size);
  // Each vCPU touches only the first element of its slot, and no vCPU that does not
  // exist touches anything.
  for (uint64_t i = 0; i < kRuntimeMaxVcpus * kCounterStride; ++i) {
    if (i % kCounterStride == 0 && i / kCounterStride < vcpus) {
      continue;
    }
    EXPECT_EQ(*ReadGuestU64(vm, counters, i), 0u) << counters << "[" << i << "]";
  }
  ASSERT_TRUE(vm.Resume().ok());
}

class StepLoopTest : public GuestDebugGuestsTest,
                     public ::testing::WithParamInterface<StepGuest> {};

TEST_P(StepLoopTest, OneVcpuPrintsItsLineAndLoops) {
  std::shared_ptr<vmm::Vm> vm = StartGuest(GetParam().guest + "-1", GetParam().guest);
  ASSERT_NE(vm, nullptr);
  ExpectRunsEveryVcpu(*vm, GetParam(), 1);
  EXPECT_EQ(vm->console().ReadFrom(0).data, GetParam().guest + ": vcpu 0 up\n");
  EXPECT_EQ(vm->state(), VmState::kRunning);
}

TEST_P(StepLoopTest, EveryOneOfFourVcpusLoopsOnItsOwnCounter) {
  std::shared_ptr<vmm::Vm> vm = StartGuest(GetParam().guest + "-4", GetParam().guest, 4);
  ASSERT_NE(vm, nullptr);
  ExpectRunsEveryVcpu(*vm, GetParam(), 4);
  for (const vmm::VcpuSnapshot& vcpu : vm->Snapshot().vcpu_snapshots) {
    EXPECT_EQ(vcpu.state, vmm::VcpuState::kRunning) << "vCPU " << vcpu.id;
  }
}

TEST_P(StepLoopTest, SymbolsNameEveryInstructionTheDebuggerTestsNeed) {
  const StepGuest& g = GetParam();
  std::shared_ptr<vmm::Vm> vm = CreateGuest(g.guest + "-symbols", g.guest);
  ASSERT_NE(vm, nullptr);

  const vmm::GuestSymbol loop = Symbol(*vm, g.p + "_loop");
  EXPECT_TRUE(loop.is_function);
  ASSERT_GT(loop.size, 0u);
  const auto inside_loop = [&](const vmm::GuestSymbol& s) {
    return s.address >= loop.address && s.address + s.size <= loop.address + loop.size;
  };

  // kstep_i0..i7, kstep_inc: one instruction each, back to back (no padding that a
  // step would have to cross), strictly increasing, inside the loop, and of varied
  // lengths so an off-by-one-instruction step shows.
  std::vector<std::string> straight;
  for (int i = 0; i < 8; ++i) {
    straight.push_back(absl::StrCat(g.p, "_i", i));
  }
  straight.push_back(g.p + "_inc");
  std::set<uint64_t> lengths;
  for (size_t i = 0; i < straight.size(); ++i) {
    SCOPED_TRACE(straight[i]);
    const vmm::GuestSymbol s = Symbol(*vm, straight[i]);
    EXPECT_TRUE(s.is_function);
    EXPECT_GT(s.size, 0u);
    EXPECT_TRUE(inside_loop(s));
    EXPECT_GT(s.address, loop.address) << "the loop head comes first";
    lengths.insert(s.size);
    if (i > 0) {
      const vmm::GuestSymbol prev = Symbol(*vm, straight[i - 1]);
      EXPECT_GT(s.address, prev.address);
      EXPECT_EQ(prev.address + prev.size, s.address) << "gap after " << straight[i - 1];
    }
    // "Which symbol holds this RIP" names the instruction itself.
    std::optional<vmm::GuestSymbol> holder = vm->image().SymbolContaining(s.address);
    ASSERT_TRUE(holder.has_value());
    EXPECT_EQ(holder->name, straight[i]);
  }
  EXPECT_GE(lengths.size(), 5u);

  // The watch sites: store, the instruction after it, load, the one after that.
  const std::vector<std::string> watch = {g.w + "_store", g.w + "_after_store", g.w + "_load",
                                          g.w + "_after_load"};
  const vmm::GuestSymbol inc = Symbol(*vm, g.p + "_inc");
  for (size_t i = 0; i < watch.size(); ++i) {
    SCOPED_TRACE(watch[i]);
    const vmm::GuestSymbol s = Symbol(*vm, watch[i]);
    EXPECT_TRUE(s.is_function);
    EXPECT_GT(s.size, 0u);
    EXPECT_TRUE(inside_loop(s));
    EXPECT_GT(s.address, inc.address);
    if (i > 0) {
      const vmm::GuestSymbol prev = Symbol(*vm, watch[i - 1]);
      EXPECT_EQ(prev.address + prev.size, s.address) << "gap after " << watch[i - 1];
    }
  }

  // Data: the per-vCPU counters and watched_value alone on its page.
  const vmm::GuestSymbol counters = Symbol(*vm, g.p + "_counters");
  EXPECT_FALSE(counters.is_function);
  EXPECT_EQ(counters.size, kRuntimeMaxVcpus * kCounterStride * sizeof(uint64_t));
  EXPECT_EQ(counters.address % 64, 0u);
  const vmm::GuestSymbol watched = Symbol(*vm, "watched_value");
  EXPECT_FALSE(watched.is_function);
  EXPECT_EQ(watched.size, 8u);
  EXPECT_EQ(watched.address % kPageSize, 0u);
  for (const vmm::GuestSymbol& s : vm->image().symbols()) {
    if (s.name != "watched_value" && s.address / kPageSize == watched.address / kPageSize) {
      ADD_FAILURE() << s.name << " shares watched_value's page";
    }
  }
  // Both are zero-filled .bss, the loop's counts start at 0.
  EXPECT_EQ(*ReadGuestU64(*vm, "watched_value"), 0u);
  EXPECT_EQ(*ReadGuestU64(*vm, g.p + "_counters"), 0u);
}

INSTANTIATE_TEST_SUITE_P(Guests, StepLoopTest, ::testing::Values(kKstep, kUstep),
                         [](const ::testing::TestParamInfo<StepGuest>& info) {
                           return info.param.guest;
                         });

TEST_F(GuestDebugGuestsTest, KstepAndUstepRunTheSameInstructions) {
  std::shared_ptr<vmm::Vm> kstep = CreateGuest("kstep-bytes", "kstep");
  std::shared_ptr<vmm::Vm> ustep = CreateGuest("ustep-bytes", "ustep");
  ASSERT_NE(kstep, nullptr);
  ASSERT_NE(ustep, nullptr);
  const vmm::GuestSymbol kloop = Symbol(*kstep, "kstep_loop");
  const vmm::GuestSymbol uloop = Symbol(*ustep, "ustep_loop");
  ASSERT_EQ(kloop.size, uloop.size);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(Symbol(*kstep, absl::StrCat("kstep_i", i)).address - kloop.address,
              Symbol(*ustep, absl::StrCat("ustep_i", i)).address - uloop.address)
        << "i" << i;
  }
  // Byte for byte up to the first RIP-relative operand (the store to watched_value).
  const uint64_t same = Symbol(*kstep, "kwatch_store").address - kloop.address;
  std::vector<std::byte> kbytes(same), ubytes(same);
  ASSERT_TRUE(kstep->memory().Read(kloop.address, kbytes).ok());
  ASSERT_TRUE(ustep->memory().Read(uloop.address, ubytes).ok());
  EXPECT_EQ(kbytes, ubytes);
}

TEST_F(GuestDebugGuestsTest, SelfdebugSeesEachOfItsOwnDebugEventsOnce) {
  std::shared_ptr<vmm::Vm> vm = StartGuest("selfdebug", "selfdebug");
  ASSERT_NE(vm, nullptr);
  ASSERT_EQ(WaitForVmState(*vm, VmState::kStopped), VmState::kStopped) << vm->Snapshot().failure;
  EXPECT_EQ(vm->console().ReadFrom(0).data,
            "selfdebug: int3 3/3, dr0 2/2, tf 5/5\nselfdebug: done\n");
  EXPECT_EQ(vm->Snapshot().vcpu_snapshots.at(0).state, vmm::VcpuState::kHalted);
  EXPECT_EQ(*ReadGuestU64(*vm, "selfdebug_dr0_executed"), 2u);
}

TEST_F(GuestDebugGuestsTest, SelfdebugWorksOnVcpuZeroWhileOthersHalt) {
  std::shared_ptr<vmm::Vm> vm = StartGuest("selfdebug2", "selfdebug", 2);
  ASSERT_NE(vm, nullptr);
  ASSERT_EQ(WaitForVmState(*vm, VmState::kStopped), VmState::kStopped) << vm->Snapshot().failure;
  EXPECT_EQ(vm->console().ReadFrom(0).data,
            "selfdebug: int3 3/3, dr0 2/2, tf 5/5\nselfdebug: done\n");
}

}  // namespace
}  // namespace pvm::testing
