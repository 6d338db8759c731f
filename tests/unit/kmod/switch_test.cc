// The entry/exit switching of DEBUGCTL, DR7 and DR6, through a fake CPU that
// records every access in order.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <vector>

#include "pvm_debug.h"
#include "tests/unit/kmod/test_ranges.h"

namespace {

using pvm::kmod_test::kHostText;
using pvm::kmod_test::kRanges;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

struct Access {
  enum Op { kGetDr, kSetDr, kGetCtl, kSetCtl } op;
  int reg;
  std::uint64_t val;
  bool operator==(const Access&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Access& a) {
  static const char* const kNames[] = {"get DR", "set DR", "get DEBUGCTL", "set DEBUGCTL"};
  os << kNames[a.op];
  if (a.op == Access::kGetDr || a.op == Access::kSetDr) os << a.reg;
  return os << " 0x" << std::hex << a.val << std::dec;
}

Access GetDr(int reg, std::uint64_t val) { return {Access::kGetDr, reg, val}; }
Access SetDr(int reg, std::uint64_t val) { return {Access::kSetDr, reg, val}; }
Access GetCtl(std::uint64_t val) { return {Access::kGetCtl, 0, val}; }
Access SetCtl(std::uint64_t val) { return {Access::kSetCtl, 0, val}; }

class FakeCpu {
 public:
  static const pvm_debug_hw_ops kOps;

  std::uint64_t dr[8] = {0, 0, 0, 0, 0, 0, PVM_DR6_RESERVED, 0x400};
  std::uint64_t debugctl = 0;

  // The accesses since the last call.
  std::vector<Access> Take() {
    std::vector<Access> out;
    out.swap(log_);
    return out;
  }

 private:
  static FakeCpu& Self(void* ctx) { return *static_cast<FakeCpu*>(ctx); }
  static unsigned long GetDebugreg(void* ctx, int regno) {
    Self(ctx).log_.push_back(GetDr(regno, Self(ctx).dr[regno]));
    return Self(ctx).dr[regno];
  }
  static void SetDebugreg(void* ctx, int regno, unsigned long val) {
    Self(ctx).log_.push_back(SetDr(regno, val));
    Self(ctx).dr[regno] = val;
  }
  static u64 GetDebugctl(void* ctx) {
    Self(ctx).log_.push_back(GetCtl(Self(ctx).debugctl));
    return Self(ctx).debugctl;
  }
  static void SetDebugctl(void* ctx, u64 val) {
    Self(ctx).log_.push_back(SetCtl(val));
    Self(ctx).debugctl = val;
  }

  std::vector<Access> log_;
};

const pvm_debug_hw_ops FakeCpu::kOps = {&FakeCpu::GetDebugreg, &FakeCpu::SetDebugreg,
                                        &FakeCpu::GetDebugctl, &FakeCpu::SetDebugctl};

constexpr unsigned kPf = 14;

class SwitchTest : public ::testing::Test {
 protected:
  void SetUp() override { pvm_debug_vcpu_init(&v_, &kRanges); }

  void Load() { pvm_debug_vcpu_load(&v_, &FakeCpu::kOps, &cpu_); }
  void Enter() { pvm_debug_enter(&v_, &FakeCpu::kOps, &cpu_); }
  void Exit(unsigned vector) { pvm_debug_exit(&v_, &FakeCpu::kOps, &cpu_, vector); }

  pvm_debug_vcpu v_;
  FakeCpu cpu_;
};

TEST_F(SwitchTest, LoadOnlyReadsDebugctl) {
  cpu_.debugctl = 0x1;
  Load();
  EXPECT_THAT(cpu_.Take(), ElementsAre(GetCtl(0x1)));
  EXPECT_EQ(v_.host_debugctl, 0x1u);
}

TEST_F(SwitchTest, FullSequenceInExactOrder) {
  cpu_.debugctl = 0x3;  // host LBR + BTF
  Load();
  pvm_debug_set_db(&v_, 0, 0x401000);
  pvm_debug_set_dr7(&v_, 0x000d2401);  // GD + write/4 on slot 0
  cpu_.Take();

  Enter();
  EXPECT_THAT(cpu_.Take(), ElementsAre(SetCtl(0), SetDr(7, 0x000d0401)));

  cpu_.dr[6] = 0xffff0ff1;  // B0, as the hardware reports the hit
  Exit(PVM_DB_VECTOR);
  EXPECT_THAT(cpu_.Take(), ElementsAre(SetDr(7, 0), GetDr(6, 0xffff0ff1),
                                       SetDr(6, PVM_DR6_RESERVED), SetCtl(0x3)));
  EXPECT_EQ(v_.exit_dr6, 0xffff0ff1ul);
  EXPECT_EQ(cpu_.debugctl, 0x3u);
  EXPECT_EQ(cpu_.dr[7], 0u);
}

TEST_F(SwitchTest, NoBreakpointEnabledLeavesDr7Alone) {
  Load();
  // Control bits, LE/GE, GD: none of them enables a breakpoint.
  for (unsigned long dr7 : {0x0ul, 0x400ul, 0x700ul, 0xffff2700ul}) {
    pvm_debug_set_dr7(&v_, dr7);
    cpu_.Take();
    Enter();
    Exit(kPf);
    Enter();
    cpu_.dr[6] = 0xffff4ff0;
    Exit(PVM_DB_VECTOR);
    EXPECT_THAT(cpu_.Take(), ElementsAre(GetDr(6, 0xffff4ff0), SetDr(6, PVM_DR6_RESERVED)))
        << std::hex << dr7;
  }
}

TEST_F(SwitchTest, DebugctlUntouchedWhenTheHostHadZero) {
  cpu_.debugctl = 0;
  Load();
  pvm_debug_set_db(&v_, 1, 0x2000);
  pvm_debug_set_dr7(&v_, 0x404);
  cpu_.Take();
  Enter();
  Exit(kPf);
  EXPECT_THAT(cpu_.Take(), ElementsAre(SetDr(7, 0x404), SetDr(7, 0)));
}

TEST_F(SwitchTest, DebugctlZeroedAndRestoredWhenTheHostHadIt) {
  cpu_.debugctl = 0x1;
  Load();
  cpu_.Take();
  Enter();
  EXPECT_EQ(cpu_.debugctl, 0u);
  Exit(kPf);
  EXPECT_THAT(cpu_.Take(), ElementsAre(SetCtl(0), SetCtl(0x1)));
}

TEST_F(SwitchTest, HostDebugctlIsTheOneReadAtTheLatestLoad) {
  cpu_.debugctl = 0x1;
  Load();
  cpu_.debugctl = 0;
  Load();  // scheduled onto a CPU whose host has LBR off
  cpu_.Take();
  Enter();
  Exit(kPf);
  EXPECT_THAT(cpu_.Take(), IsEmpty());
}

TEST_F(SwitchTest, Dr6CapturedAndResetOnlyOnDebugExits) {
  Load();
  pvm_debug_set_dr7(&v_, 0);
  for (unsigned vector = 0; vector < 256; ++vector) {
    cpu_.Take();
    cpu_.dr[6] = 0xffff0ff2;
    Enter();
    Exit(vector);
    if (vector == PVM_DB_VECTOR) {
      EXPECT_THAT(cpu_.Take(), ElementsAre(GetDr(6, 0xffff0ff2), SetDr(6, PVM_DR6_RESERVED)));
    } else {
      EXPECT_THAT(cpu_.Take(), IsEmpty()) << "vector " << vector;
    }
  }
}

TEST_F(SwitchTest, Dr7LoadedWithoutTheDroppedSlots) {
  Load();
  pvm_debug_set_db(&v_, 0, 0x1000);
  pvm_debug_set_db(&v_, 1, kHostText);
  pvm_debug_set_dr7(&v_, 0x00d00405);
  cpu_.Take();
  Enter();
  EXPECT_THAT(cpu_.Take(), ElementsAre(SetDr(7, 0x401)));
}

TEST_F(SwitchTest, Dr7LoadedEvenWhenEverySlotIsDropped) {
  // The rule decides on the guest DR7, so the zero-bits DR7 is still written
  // (and zeroed again at exit): the host never runs with a guest value.
  Load();
  pvm_debug_set_db(&v_, 0, kHostText);
  pvm_debug_set_dr7(&v_, 0x000d0401);
  cpu_.Take();
  Enter();
  Exit(kPf);
  EXPECT_THAT(cpu_.Take(), ElementsAre(SetDr(7, 0x400), SetDr(7, 0)));
}

TEST_F(SwitchTest, ExitZeroesDr7IfEntryLoadedItEvenAfterTheGuestDr7Changed) {
  Load();
  pvm_debug_set_db(&v_, 0, 0x1000);
  pvm_debug_set_dr7(&v_, 0x401);
  Enter();
  pvm_debug_set_dr7(&v_, 0);  // e.g. emulated MOV DR7 while out of the guest
  cpu_.Take();
  Exit(kPf);
  EXPECT_THAT(cpu_.Take(), ElementsAre(SetDr(7, 0)));
  Enter();
  Exit(kPf);
  EXPECT_THAT(cpu_.Take(), IsEmpty());
}

TEST_F(SwitchTest, EntriesReuseTheCachedEffectiveDr7) {
  Load();
  pvm_debug_set_db(&v_, 0, 0x1000);
  pvm_debug_set_dr7(&v_, 0x401);
  for (int i = 0; i < 100; ++i) {
    Enter();
    Exit(kPf);
  }
  EXPECT_EQ(v_.eff_dr7_computed, 1u);
  pvm_debug_set_db(&v_, 0, kHostText);
  cpu_.Take();
  Enter();
  EXPECT_THAT(cpu_.Take(), ElementsAre(SetDr(7, 0x400)));
  EXPECT_EQ(v_.eff_dr7_computed, 2u);
}

TEST_F(SwitchTest, OutOfRangeSlotIsIgnored) {
  pvm_debug_set_db(&v_, 4, kHostText);
  pvm_debug_set_db(&v_, -1, kHostText);
  for (u64 db : v_.db) EXPECT_EQ(db, 0u);
}

}  // namespace
