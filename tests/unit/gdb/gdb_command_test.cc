#include "daemon/gdb/gdb_command.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace pvm::gdb {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// What a command parsed as, for failure messages.
std::string Describe(const Command& command) {
  if (const auto* bad = std::get_if<Malformed>(&command)) return "Malformed{" + bad->why + "}";
  if (const auto* un = std::get_if<Unsupported>(&command)) {
    return "Unsupported{" + un->payload + "}";
  }
  return "variant index " + std::to_string(command.index());
}

// `payload` parsed, which must give a T; a default T (and a failure) otherwise.
template <typename T>
T As(std::string_view payload) {
  const Command command = ParseCommand(payload);
  const T* parsed = std::get_if<T>(&command);
  EXPECT_NE(parsed, nullptr) << "'" << payload << "' parsed as " << Describe(command);
  return parsed != nullptr ? *parsed : T{};
}

template <typename T>
bool Is(std::string_view payload) {
  return std::holds_alternative<T>(ParseCommand(payload));
}

std::string WhyMalformed(std::string_view payload) { return As<Malformed>(payload).why; }

// ---- Connection and queries ------------------------------------------------------

TEST(GdbCommandTest, QuerySupportedFromGdb13) {
  const QuerySupported q = As<QuerySupported>(
      "qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+;vfork-events+;"
      "exec-events+;vContSupported+;QThreadEvents+;no-resumed+;memory-tagging+;"
      "xmlRegisters=i386");
  EXPECT_THAT(q.features,
              ElementsAre("multiprocess+", "swbreak+", "hwbreak+", "qRelocInsn+", "fork-events+",
                          "vfork-events+", "exec-events+", "vContSupported+", "QThreadEvents+",
                          "no-resumed+", "memory-tagging+", "xmlRegisters=i386"));
  EXPECT_THAT(As<QuerySupported>("qSupported").features, ElementsAre());
  EXPECT_THAT(As<QuerySupported>("qSupported:").features, ElementsAre());
}

TEST(GdbCommandTest, SimpleQueries) {
  EXPECT_TRUE(Is<StartNoAckMode>("QStartNoAckMode"));
  EXPECT_TRUE(Is<QueryStopReason>("?"));
  EXPECT_TRUE(Is<ThreadInfoFirst>("qfThreadInfo"));
  EXPECT_TRUE(Is<ThreadInfoNext>("qsThreadInfo"));
  EXPECT_TRUE(Is<CurrentThread>("qC"));
  EXPECT_TRUE(Is<Attached>("qAttached"));
  EXPECT_TRUE(Is<Attached>("qAttached:1"));
  EXPECT_TRUE(Is<VContQuery>("vCont?"));
}

TEST(GdbCommandTest, ThreadExtraInfo) {
  EXPECT_EQ(As<ThreadExtraInfo>("qThreadExtraInfo,1").thread, 1);
  EXPECT_EQ(As<ThreadExtraInfo>("qThreadExtraInfo,p1.2").thread, 2);
  EXPECT_THAT(WhyMalformed("qThreadExtraInfo,xyz"), HasSubstr("thread"));
  EXPECT_TRUE(Is<Malformed>("qThreadExtraInfo,"));
}

TEST(GdbCommandTest, ReadFeatures) {
  const ReadFeatures first = As<ReadFeatures>("qXfer:features:read:target.xml:0,ffb");
  EXPECT_EQ(first.annex, "target.xml");
  EXPECT_EQ(first.offset, 0u);
  EXPECT_EQ(first.length, 0xffbu);
  const ReadFeatures next = As<ReadFeatures>("qXfer:features:read:target.xml:ffb,ffb");
  EXPECT_EQ(next.offset, 0xffbu);
  EXPECT_EQ(As<ReadFeatures>("qXfer:features:read:i386-64bit.xml:0,ffb").annex, "i386-64bit.xml");
}

TEST(GdbCommandTest, ReadFeaturesLengthIsClamped) {
  EXPECT_EQ(As<ReadFeatures>("qXfer:features:read:target.xml:0,100000").length, kMaxTransfer);
  EXPECT_EQ(As<ReadFeatures>("qXfer:features:read:target.xml:0,ffffffffffffffff").length,
            kMaxTransfer);
}

TEST(GdbCommandTest, ReadFeaturesMalformed) {
  EXPECT_THAT(WhyMalformed("qXfer:features:read:target.xml:0ffb"), HasSubstr("','"));
  EXPECT_THAT(WhyMalformed("qXfer:features:read:target.xml"), HasSubstr("':'"));
  EXPECT_THAT(WhyMalformed("qXfer:features:read:target.xml:zz,10"), HasSubstr("offset"));
  EXPECT_THAT(WhyMalformed("qXfer:features:read:target.xml:0,"), HasSubstr("length"));
  EXPECT_TRUE(Is<Malformed>("qXfer:features:read:target.xml:ffffffffffffffffff,1"));
}

TEST(GdbCommandTest, OtherXferObjectsAreUnsupported) {
  EXPECT_EQ(As<Unsupported>("qXfer:auxv:read::0,1000").payload, "qXfer:auxv:read::0,1000");
  EXPECT_TRUE(Is<Unsupported>("qXfer:features:write:target.xml:0:abc"));
  EXPECT_TRUE(Is<Unsupported>("qXfer:exec-file:read:1:0,ffb"));
}

// ---- Registers ----------------------------------------------------------------------

TEST(GdbCommandTest, Registers) {
  EXPECT_TRUE(Is<ReadRegisters>("g"));
  EXPECT_EQ(As<WriteRegisters>("G0100ff").bytes, std::string_view("\x01\x00\xff", 3));
  EXPECT_EQ(As<ReadRegister>("p10").number, 0x10u);
  const WriteRegister w = As<WriteRegister>("P10=0010400000000000");
  EXPECT_EQ(w.number, 0x10u);
  EXPECT_EQ(w.bytes, std::string("\x00\x10\x40\x00\x00\x00\x00\x00", 8));
}

TEST(GdbCommandTest, RegistersMalformed) {
  EXPECT_TRUE(Is<Malformed>("g0"));
  EXPECT_TRUE(Is<Malformed>("G"));
  EXPECT_TRUE(Is<Malformed>("G012"));
  EXPECT_TRUE(Is<Malformed>("Gzz"));
  EXPECT_TRUE(Is<Malformed>("p"));
  EXPECT_TRUE(Is<Malformed>("pxyz"));
  EXPECT_TRUE(Is<Malformed>("p10000000000000000"));
  EXPECT_THAT(WhyMalformed("P10"), HasSubstr("'='"));
  EXPECT_TRUE(Is<Malformed>("P10="));
  EXPECT_TRUE(Is<Malformed>("P=00"));
  EXPECT_TRUE(Is<Malformed>("P10=0"));
  EXPECT_TRUE(Is<Malformed>("P10=0g"));
}

// ---- Memory -------------------------------------------------------------------------

TEST(GdbCommandTest, ReadMemory) {
  const ReadMemory m = As<ReadMemory>("m7ffff7fe3000,40");
  EXPECT_EQ(m.address, 0x7ffff7fe3000u);
  EXPECT_EQ(m.length, 0x40u);
  EXPECT_EQ(As<ReadMemory>("mffffffff81000000,2000").length, kMaxTransfer);
  EXPECT_EQ(As<ReadMemory>("m0,0").length, 0u);
}

TEST(GdbCommandTest, ReadMemoryMalformed) {
  EXPECT_THAT(WhyMalformed("m1000"), HasSubstr("','"));
  EXPECT_THAT(WhyMalformed("m1000,2001"), HasSubstr("exceeds"));
  EXPECT_THAT(WhyMalformed("mffffffffffffffffff,1"), HasSubstr("address"));
  EXPECT_THAT(WhyMalformed("mzz,1"), HasSubstr("address"));
  EXPECT_THAT(WhyMalformed("m1000,"), HasSubstr("length"));
  EXPECT_THAT(WhyMalformed("m1000,-1"), HasSubstr("length"));
  EXPECT_TRUE(Is<Malformed>("m"));
  EXPECT_TRUE(Is<Malformed>("m,"));
}

TEST(GdbCommandTest, WriteMemoryHex) {
  const WriteMemory w = As<WriteMemory>("M401000,2:cc90");
  EXPECT_EQ(w.address, 0x401000u);
  EXPECT_EQ(w.bytes, "\xcc\x90");
  EXPECT_EQ(As<WriteMemory>("M401000,0:").bytes, "");
}

TEST(GdbCommandTest, WriteMemoryHexMalformed) {
  EXPECT_THAT(WhyMalformed("M401000,2"), HasSubstr("':'"));
  EXPECT_THAT(WhyMalformed("M401000,2:cc9"), HasSubstr("hex"));
  EXPECT_THAT(WhyMalformed("M401000,2:ccxx"), HasSubstr("hex"));
  EXPECT_THAT(WhyMalformed("M401000,3:cc90"), HasSubstr("length"));
  EXPECT_THAT(WhyMalformed("M4010002:cc90"), HasSubstr("','"));
  EXPECT_THAT(WhyMalformed("M401000,2001:" + std::string(2 * 0x2001, '0')), HasSubstr("exceeds"));
  EXPECT_THAT(WhyMalformed("Mffffffffffffffffff,1:00"), HasSubstr("address"));
}

TEST(GdbCommandTest, WriteMemoryBinary) {
  // The decoder hands over X data unescaped: any byte, ':' and 0x03 included.
  const WriteMemory w = As<WriteMemory>(std::string("X401000,4:\x03:\x00}", 14));
  EXPECT_EQ(w.address, 0x401000u);
  EXPECT_EQ(w.bytes, std::string("\x03:\x00}", 4));
  // gdb's probe for X support.
  const WriteMemory probe = As<WriteMemory>("X401000,0:");
  EXPECT_EQ(probe.address, 0x401000u);
  EXPECT_EQ(probe.bytes, "");
  EXPECT_EQ(As<WriteMemory>("X0,2000:" + std::string(kMaxTransfer, 'x')).bytes.size(),
            kMaxTransfer);
}

TEST(GdbCommandTest, WriteMemoryBinaryMalformed) {
  EXPECT_THAT(WhyMalformed("X401000,2:a"), HasSubstr("length"));
  EXPECT_THAT(WhyMalformed("X401000,0:a"), HasSubstr("length"));
  EXPECT_THAT(WhyMalformed("X401000,2"), HasSubstr("':'"));
  EXPECT_THAT(WhyMalformed("X401000:ab"), HasSubstr("','"));
  EXPECT_THAT(WhyMalformed("X0,2001:" + std::string(kMaxTransfer + 1, 'x')), HasSubstr("exceeds"));
  EXPECT_THAT(WhyMalformed("Xffffffffffffffffff,1:a"), HasSubstr("address"));
}

// ---- Run control -------------------------------------------------------------------

TEST(GdbCommandTest, Resume) {
  const Resume c = As<Resume>("c");
  EXPECT_FALSE(c.step);
  EXPECT_EQ(c.address, std::nullopt);
  EXPECT_EQ(c.signal, std::nullopt);
  const Resume s = As<Resume>("s401000");
  EXPECT_TRUE(s.step);
  EXPECT_EQ(s.address, 0x401000u);
  EXPECT_EQ(As<Resume>("c401000").address, 0x401000u);
  const Resume csig = As<Resume>("C05");
  EXPECT_FALSE(csig.step);
  EXPECT_EQ(csig.signal, 5);
  EXPECT_EQ(csig.address, std::nullopt);
  const Resume ssig = As<Resume>("S0b;401000");
  EXPECT_TRUE(ssig.step);
  EXPECT_EQ(ssig.signal, 0xb);
  EXPECT_EQ(ssig.address, 0x401000u);
}

TEST(GdbCommandTest, ResumeMalformed) {
  EXPECT_TRUE(Is<Malformed>("cxyz"));
  EXPECT_TRUE(Is<Malformed>("s-1"));
  EXPECT_TRUE(Is<Malformed>("cffffffffffffffffff"));
  EXPECT_TRUE(Is<Malformed>("C"));
  EXPECT_TRUE(Is<Malformed>("C5"));
  EXPECT_TRUE(Is<Malformed>("C123"));
  EXPECT_TRUE(Is<Malformed>("Czz"));
  EXPECT_TRUE(Is<Malformed>("C05;"));
  EXPECT_TRUE(Is<Malformed>("S05;xyz"));
}

TEST(GdbCommandTest, VCont) {
  const VCont step = As<VCont>("vCont;s:p1.1;c");
  ASSERT_EQ(step.actions.size(), 2u);
  EXPECT_EQ(step.actions[0].action, 's');
  EXPECT_EQ(step.actions[0].thread, 1);
  EXPECT_EQ(step.actions[1].action, 'c');
  EXPECT_EQ(step.actions[1].thread, kAllThreads);

  const VCont all = As<VCont>("vCont;c:p1.-1");
  ASSERT_EQ(all.actions.size(), 1u);
  EXPECT_EQ(all.actions[0].thread, kAllThreads);

  const VCont sig = As<VCont>("vCont;C05:1;S0b:2;t:3");
  ASSERT_EQ(sig.actions.size(), 3u);
  EXPECT_EQ(sig.actions[0].action, 'c');
  EXPECT_EQ(sig.actions[0].signal, 5);
  EXPECT_EQ(sig.actions[0].thread, 1);
  EXPECT_EQ(sig.actions[1].action, 's');
  EXPECT_EQ(sig.actions[1].signal, 0xb);
  EXPECT_EQ(sig.actions[2].action, 't');
  EXPECT_EQ(sig.actions[2].signal, std::nullopt);
  EXPECT_EQ(sig.actions[2].thread, 3);

  EXPECT_EQ(As<VCont>("vCont;s:a").actions[0].thread, 0xa);
}

TEST(GdbCommandTest, VContMalformed) {
  EXPECT_TRUE(Is<Malformed>("vCont"));
  EXPECT_TRUE(Is<Malformed>("vCont;"));
  EXPECT_TRUE(Is<Malformed>("vCont;;c"));
  EXPECT_TRUE(Is<Malformed>("vCont;x"));
  EXPECT_TRUE(Is<Malformed>("vCont;cc"));
  EXPECT_TRUE(Is<Malformed>("vCont;c:"));
  EXPECT_TRUE(Is<Malformed>("vCont;c:zz"));
  EXPECT_TRUE(Is<Malformed>("vCont;C5:1"));
  EXPECT_TRUE(Is<Malformed>("vCont;C:1"));
  EXPECT_TRUE(Is<Malformed>("vCont;s:p1."));
  EXPECT_THAT(WhyMalformed("vCont;q"), HasSubstr("vCont"));
}

TEST(GdbCommandTest, Breakpoints) {
  const Breakpoint z0 = As<Breakpoint>("Z0,401000,1");
  EXPECT_TRUE(z0.insert);
  EXPECT_EQ(z0.type, PointType::kSoftware);
  EXPECT_EQ(z0.address, 0x401000u);
  EXPECT_EQ(z0.kind, 1u);
  const Breakpoint hw = As<Breakpoint>("z1,ffffffff81000000,1");
  EXPECT_FALSE(hw.insert);
  EXPECT_EQ(hw.type, PointType::kHardware);
  EXPECT_EQ(hw.address, 0xffffffff81000000u);
  EXPECT_EQ(As<Breakpoint>("Z2,601040,8").type, PointType::kWrite);
  EXPECT_EQ(As<Breakpoint>("Z3,601040,4").type, PointType::kRead);
  EXPECT_EQ(As<Breakpoint>("Z4,601040,2").type, PointType::kAccess);
  // Conditions and commands after ';' are accepted and ignored.
  EXPECT_EQ(As<Breakpoint>("Z0,401000,1;X3,220027").address, 0x401000u);
}

TEST(GdbCommandTest, BreakpointsMalformed) {
  EXPECT_TRUE(Is<Malformed>("Z0,401000"));
  EXPECT_TRUE(Is<Malformed>("Z0401000,1"));
  EXPECT_TRUE(Is<Malformed>("Z0,401000,1,2"));
  EXPECT_TRUE(Is<Malformed>("Z5,401000,1"));
  EXPECT_TRUE(Is<Malformed>("Zx,401000,1"));
  EXPECT_TRUE(Is<Malformed>("Z0,xyz,1"));
  EXPECT_TRUE(Is<Malformed>("Z0,401000,"));
  EXPECT_THAT(WhyMalformed("Z0,ffffffffffffffffff,1"), HasSubstr("address"));
  EXPECT_TRUE(Is<Malformed>("Z"));
  EXPECT_TRUE(Is<Malformed>("z"));
}

// ---- Threads -----------------------------------------------------------------------

TEST(GdbCommandTest, SetThread) {
  const SetThread g = As<SetThread>("Hg0");
  EXPECT_EQ(g.op, 'g');
  EXPECT_EQ(g.thread, kAnyThread);
  const SetThread c = As<SetThread>("Hc-1");
  EXPECT_EQ(c.op, 'c');
  EXPECT_EQ(c.thread, kAllThreads);
  EXPECT_EQ(As<SetThread>("Hgp0.0").thread, kAnyThread);
  EXPECT_EQ(As<SetThread>("Hgp1.2").thread, 2);
  EXPECT_EQ(As<SetThread>("Hcp1.-1").thread, kAllThreads);
  EXPECT_EQ(As<SetThread>("Hgp1").thread, kAllThreads);
  EXPECT_EQ(As<SetThread>("Hg1f").thread, 0x1f);
}

TEST(GdbCommandTest, SetThreadMalformed) {
  EXPECT_TRUE(Is<Malformed>("H"));
  EXPECT_TRUE(Is<Malformed>("Hg"));
  EXPECT_TRUE(Is<Malformed>("Hx1"));
  EXPECT_TRUE(Is<Malformed>("Hgxyz"));
  EXPECT_TRUE(Is<Malformed>("Hg-2"));
  EXPECT_TRUE(Is<Malformed>("Hg8000000000000000"));  // past int64_t
  EXPECT_TRUE(Is<Malformed>("Hgffffffffffffffffff"));
  EXPECT_TRUE(Is<Malformed>("Hgp"));
  EXPECT_TRUE(Is<Malformed>("Hgp1."));
  EXPECT_TRUE(Is<Malformed>("Hgp.1"));
  EXPECT_TRUE(Is<Malformed>("Hgpp1.1"));
  EXPECT_TRUE(Is<Malformed>("Hgp1.p1"));
}

TEST(GdbCommandTest, ThreadAlive) {
  EXPECT_EQ(As<ThreadAlive>("T1").thread, 1);
  EXPECT_EQ(As<ThreadAlive>("Tp1.3").thread, 3);
  EXPECT_TRUE(Is<Malformed>("T"));
  EXPECT_TRUE(Is<Malformed>("Tq"));
}

// ---- Ending the session ------------------------------------------------------------

TEST(GdbCommandTest, DetachAndKill) {
  EXPECT_TRUE(Is<Detach>("D"));
  EXPECT_TRUE(Is<Detach>("D;1"));
  EXPECT_TRUE(Is<Kill>("k"));
  EXPECT_TRUE(Is<Kill>("vKill;1"));
  EXPECT_TRUE(Is<Kill>("vKill;a2"));
}

TEST(GdbCommandTest, DetachAndKillMalformed) {
  EXPECT_TRUE(Is<Malformed>("D;"));
  EXPECT_TRUE(Is<Malformed>("D;xyz"));
  EXPECT_TRUE(Is<Malformed>("D1"));
  EXPECT_TRUE(Is<Malformed>("k1"));
  EXPECT_TRUE(Is<Malformed>("vKill;"));
  EXPECT_TRUE(Is<Malformed>("vKill;xyz"));
  EXPECT_TRUE(Is<Malformed>("?1"));
}

// ---- Everything else ---------------------------------------------------------------

TEST(GdbCommandTest, UnknownPacketsAreUnsupportedWithTheirPayload) {
  for (std::string_view payload : {"qTStatus",
                                   "vMustReplyEmpty",
                                   "qOffsets",
                                   "qSymbol::",
                                   "vFile:setfs:0",
                                   "vFile:open:6a7573742070726f62696e67,0,1c0",
                                   "qCRC:401000,10",
                                   "qCx",
                                   "qGetTLSAddr:1,2,3",
                                   "QNonStop:0",
                                   "QThreadEvents:1",
                                   "vContX",
                                   "vRun;",
                                   "!",
                                   "bc",
                                   "i",
                                   "R00",
                                   "A",
                                   "qSupportedX",
                                   "qfThreadInfoX",
                                   "qAttachedX",
                                   "qThreadExtraInfo",
                                   "qTfV",
                                   "jThreadsInfo",
                                   "\x01\xff"}) {
    EXPECT_EQ(As<Unsupported>(payload).payload, payload);
  }
  EXPECT_EQ(As<Unsupported>("").payload, "");
}

TEST(GdbCommandTest, MalformedReasonsAreShortAndHuman) {
  for (std::string_view payload : {"m1000", "M0,1:zz", "X0,5:ab", "Z9,0,0", "vCont;", "Hgq"}) {
    const std::string why = WhyMalformed(payload);
    EXPECT_FALSE(why.empty()) << payload;
    EXPECT_LT(why.size(), 80u) << payload;
  }
}

}  // namespace
}  // namespace pvm::gdb
