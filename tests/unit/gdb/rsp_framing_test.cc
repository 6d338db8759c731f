#include "daemon/gdb/rsp_framing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace pvm::gdb {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Kind = RspEvent::Kind;

// The checksum of `raw` as it goes on the wire (already escaped), computed
// independently of the code under test.
std::string Checksum(std::string_view raw) {
  unsigned sum = 0;
  for (char c : raw) sum += static_cast<uint8_t>(c);
  char hex[3];
  std::snprintf(hex, sizeof(hex), "%02x", sum % 256);
  return hex;
}

std::string Frame(std::string_view raw) { return "$" + std::string(raw) + "#" + Checksum(raw); }

std::vector<RspEvent> Decode(std::string_view bytes, size_t max_payload = kMaxPacketPayload) {
  RspDecoder decoder(max_payload);
  std::vector<RspEvent> events;
  decoder.Feed(bytes, &events);
  return events;
}

RspEvent Packet(std::string payload) { return {.kind = Kind::kPacket, .payload = payload}; }
RspEvent Ack() { return {.kind = Kind::kAck}; }
RspEvent Interrupt() { return {.kind = Kind::kInterrupt}; }

// gdb 13.1 (`target remote`) connecting to a stub that advertises multiprocess+,
// QStartNoAckMode+ and qXfer:features:read+, then stopping with Ctrl-C: the bytes gdb
// sent, in order. Acks stop after QStartNoAckMode's reply.
constexpr std::string_view kGdb13Connect =
    "+$qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+;vfork-events+;"
    "exec-events+;vContSupported+;QThreadEvents+;no-resumed+;memory-tagging+;"
    "xmlRegisters=i386#77"
    "+$vMustReplyEmpty#3a"
    "+$QStartNoAckMode#b0"
    "+$Hgp0.0#ad"
    "$qXfer:features:read:target.xml:0,ffb#79"
    "$qXfer:features:read:target.xml:ffb,ffb#77"
    "$qTStatus#49"
    "$?#3f"
    "$qfThreadInfo#bb"
    "$qsThreadInfo#c8"
    "$qAttached:1#fa"
    "$Hcp1.-1#d8"
    "$qC#b4"
    "$qOffsets#4b"
    "$g#67"
    "$m7ffff7fe3000,40#91"
    "$qSymbol::#5b"
    "$Z0,401000,1#38"
    "$vCont;c:p1.-1#0f"
    "\x03";

std::vector<RspEvent> Gdb13ConnectEvents() {
  return {Ack(),
          Packet("qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+;"
                 "vfork-events+;exec-events+;vContSupported+;QThreadEvents+;no-resumed+;"
                 "memory-tagging+;xmlRegisters=i386"),
          Ack(),
          Packet("vMustReplyEmpty"),
          Ack(),
          Packet("QStartNoAckMode"),
          Ack(),
          Packet("Hgp0.0"),
          Packet("qXfer:features:read:target.xml:0,ffb"),
          Packet("qXfer:features:read:target.xml:ffb,ffb"),
          Packet("qTStatus"),
          Packet("?"),
          Packet("qfThreadInfo"),
          Packet("qsThreadInfo"),
          Packet("qAttached:1"),
          Packet("Hcp1.-1"),
          Packet("qC"),
          Packet("qOffsets"),
          Packet("g"),
          Packet("m7ffff7fe3000,40"),
          Packet("qSymbol::"),
          Packet("Z0,401000,1"),
          Packet("vCont;c:p1.-1"),
          Interrupt()};
}

// ---- Checksums ---------------------------------------------------------------

TEST(RspChecksumTest, HandVerifiedLiterals) {
  // Summed by hand: '?' = 0x3f; 'g' = 0x67; 'q' + 'C' = 0x71 + 0x43 = 0xb4;
  // 'H' + 'g' + '0' = 0x48 + 0x67 + 0x30 = 0xdf.
  EXPECT_EQ(Frame("?"), "$?#3f");
  EXPECT_EQ(Frame("g"), "$g#67");
  EXPECT_EQ(Frame("qC"), "$qC#b4");
  EXPECT_EQ(Frame("Hg0"), "$Hg0#df");
  EXPECT_EQ(Frame("vMustReplyEmpty"), "$vMustReplyEmpty#3a");
  EXPECT_EQ(Frame("qXfer:features:read:target.xml:0,ffb"),
            "$qXfer:features:read:target.xml:0,ffb#79");
  EXPECT_THAT(Decode("$?#3f$g#67$qC#b4$Hg0#df"),
              ElementsAre(Packet("?"), Packet("g"), Packet("qC"), Packet("Hg0")));
}

TEST(RspChecksumTest, RecordedSessionChecksumsMatchTheHelper) {
  // Every literal checksum in the recording, recomputed: a typo there would make the
  // session test below test the wrong thing.
  for (const RspEvent& event : Gdb13ConnectEvents()) {
    if (event.kind != Kind::kPacket) continue;
    EXPECT_THAT(kGdb13Connect, HasSubstr(Frame(event.payload))) << event.payload;
  }
}

TEST(RspChecksumTest, UppercaseChecksumDigitsAreAccepted) {
  EXPECT_THAT(Decode("$qC#B4"), ElementsAre(Packet("qC")));
}

// ---- A recorded session -------------------------------------------------------

TEST(RspDecoderTest, RecordedGdb13ConnectFedWhole) {
  EXPECT_EQ(Decode(kGdb13Connect), Gdb13ConnectEvents());
}

TEST(RspDecoderTest, RecordedGdb13ConnectSplitAtEveryByte) {
  const std::vector<RspEvent> expected = Gdb13ConnectEvents();
  for (size_t split = 0; split <= kGdb13Connect.size(); ++split) {
    RspDecoder decoder;
    std::vector<RspEvent> events;
    decoder.Feed(kGdb13Connect.substr(0, split), &events);
    decoder.Feed(kGdb13Connect.substr(split), &events);
    ASSERT_EQ(events, expected) << "split at " << split;
    EXPECT_FALSE(decoder.in_packet());
  }
}

TEST(RspDecoderTest, RecordedGdb13ConnectOneByteAtATime) {
  RspDecoder decoder;
  std::vector<RspEvent> events;
  for (char c : kGdb13Connect) decoder.Feed(std::string_view(&c, 1), &events);
  EXPECT_EQ(events, Gdb13ConnectEvents());
}

// ---- Bad packets and recovery -----------------------------------------------

TEST(RspDecoderTest, BadChecksumIsReportedAndTheNextPacketDecodes) {
  const std::vector<RspEvent> events = Decode("$qC#b5$g#67");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, Kind::kBadPacket);
  EXPECT_THAT(events[0].error, HasSubstr("bad checksum"));
  EXPECT_EQ(events[1], Packet("g"));
}

TEST(RspDecoderTest, NonHexChecksumDigitIsBad) {
  for (std::string_view bytes : {"$g#6z", "$g#z7", "$g#--", "$g#+7"}) {
    const std::vector<RspEvent> events = Decode(bytes);
    ASSERT_EQ(events.size(), 1u) << bytes;
    EXPECT_EQ(events[0].kind, Kind::kBadPacket) << bytes;
    EXPECT_THAT(events[0].error, HasSubstr("non-hex")) << bytes;
  }
}

TEST(RspDecoderTest, DollarMidPacketRestarts) {
  const std::vector<RspEvent> events = Decode("$qC$g#67");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, Kind::kBadPacket);
  EXPECT_THAT(events[0].error, HasSubstr("restarted"));
  EXPECT_EQ(events[1], Packet("g"));
}

TEST(RspDecoderTest, DollarInTheChecksumRestarts) {
  const std::vector<RspEvent> events = Decode("$qC#b$g#67");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, Kind::kBadPacket);
  EXPECT_EQ(events[1], Packet("g"));
}

TEST(RspDecoderTest, OverlongPacketIsOneBadPacketAndTheDecoderRecovers) {
  const std::string payload(kMaxPacketPayload + 1, 'a');
  RspDecoder decoder;
  std::vector<RspEvent> events;
  decoder.Feed(Frame(payload), &events);
  decoder.Feed("$g#67", &events);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, Kind::kBadPacket);
  EXPECT_THAT(events[0].error, HasSubstr("longer than 16384"));
  EXPECT_EQ(events[1], Packet("g"));
}

TEST(RspDecoderTest, PacketOfExactlyTheMaximumIsAccepted) {
  const std::string payload(kMaxPacketPayload, 'a');
  EXPECT_THAT(Decode(Frame(payload)), ElementsAre(Packet(payload)));
}

TEST(RspDecoderTest, LimitCountsUnescapedBytes) {
  // Four escaped bytes are eight on the wire but four of payload.
  EXPECT_THAT(Decode(Frame("}]}]}]}]"), 4), ElementsAre(Packet("}}}}")));
  const std::vector<RspEvent> events = Decode(Frame("}]}]}]}]}]"), 4);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::kBadPacket);
}

TEST(RspDecoderTest, OverlongPacketWithBadChecksumIsStillOneEvent) {
  const std::vector<RspEvent> events = Decode("$aaaaaaaaaa#00", 4);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::kBadPacket);
  EXPECT_THAT(events[0].error, HasSubstr("longer than 4"));
}

// ---- Bytes outside packets -----------------------------------------------------

TEST(RspDecoderTest, AcksNacksAndInterruptsOutsidePackets) {
  EXPECT_THAT(Decode("+-\x03+"),
              ElementsAre(Ack(), RspEvent{.kind = Kind::kNack}, Interrupt(), Ack()));
}

TEST(RspDecoderTest, StrayBytesBetweenPacketsAreIgnored) {
  EXPECT_THAT(Decode("\r\nxyz#67$g#67 \xff"), ElementsAre(Packet("g")));
}

TEST(RspDecoderTest, InPacketTracksAnUnfinishedPacket) {
  RspDecoder decoder;
  std::vector<RspEvent> events;
  EXPECT_FALSE(decoder.in_packet());
  decoder.Feed("$g", &events);
  EXPECT_TRUE(decoder.in_packet());
  decoder.Feed("#6", &events);
  EXPECT_TRUE(decoder.in_packet());
  decoder.Feed("7", &events);
  EXPECT_FALSE(decoder.in_packet());
  EXPECT_THAT(events, ElementsAre(Packet("g")));
}

// ---- Escapes and binary data ----------------------------------------------------

TEST(RspDecoderTest, EscapesDecode) {
  // '}' + (c ^ 0x20) for '#' (0x23 -> 0x03), '$' (0x24 -> 0x04), '}' (0x7d -> 0x5d),
  // '*' (0x2a -> 0x0a). The checksum covers the escaped form.
  const std::string raw = "X0,4:}\x03}\x04}]}\x0a";
  EXPECT_THAT(Decode(Frame(raw)), ElementsAre(Packet("X0,4:#$}*")));
}

TEST(RspDecoderTest, InterruptByteInsideXDataIsData) {
  const std::string raw = std::string("X1000,3:a\x03") + "b";
  EXPECT_THAT(Decode("\x03" + Frame(raw) + "\x03"),
              ElementsAre(Interrupt(), Packet(raw), Interrupt()));
}

TEST(RspDecoderTest, AckAndNackBytesInsidePacketsAreData) {
  EXPECT_THAT(Decode(Frame("X0,2:+-")), ElementsAre(Packet("X0,2:+-")));
}

// ---- EncodePacket ---------------------------------------------------------------

TEST(EncodePacketTest, HandVerified) {
  EXPECT_EQ(EncodePacket("OK"), "$OK#9a");
  EXPECT_EQ(EncodePacket(""), "$#00");
  // '#' travels as '}' 0x03: 0x7d + 0x03 = 0x80.
  EXPECT_EQ(EncodePacket("#"), "$}\x03#80");
}

TEST(EncodePacketTest, EscapesFramingAndRunLengthBytes) {
  const std::string packet = EncodePacket("a$b#c}d*e");
  const std::string_view body = std::string_view(packet).substr(1, packet.size() - 4);
  EXPECT_EQ(body.find_first_of("$#*"), std::string_view::npos) << body;
  EXPECT_EQ(body,
            "a}\x04"
            "b}\x03"
            "c}]d}\x0a"
            "e");
}

TEST(EncodePacketTest, EveryByteValueRoundTrips) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  EXPECT_THAT(Decode(EncodePacket(all)), ElementsAre(Packet(all)));
  for (int b = 0; b < 256; ++b) {
    const std::string one(1, static_cast<char>(b));
    EXPECT_THAT(Decode(EncodePacket(one)), ElementsAre(Packet(one))) << "byte " << b;
  }
}

// ---- Hex helpers ---------------------------------------------------------------

TEST(HexTest, EncodeIsLowercase) {
  EXPECT_EQ(HexEncode(std::string_view("\x01\xab\x00\xff", 4)), "01ab00ff");
  EXPECT_EQ(HexEncode(""), "");
}

TEST(HexTest, DecodeAcceptsBothCases) {
  std::string bytes;
  ASSERT_TRUE(HexDecode("01aBfF00", &bytes));
  EXPECT_EQ(bytes, std::string_view("\x01\xab\xff\x00", 4));
  ASSERT_TRUE(HexDecode("", &bytes));
  EXPECT_EQ(bytes, "");
}

TEST(HexTest, DecodeRefusesOddLengthAndNonHexWithoutTouchingTheOutput) {
  std::string bytes = "kept";
  EXPECT_FALSE(HexDecode("abc", &bytes));
  EXPECT_FALSE(HexDecode("a", &bytes));
  EXPECT_FALSE(HexDecode("0g", &bytes));
  EXPECT_FALSE(HexDecode("g0", &bytes));
  EXPECT_FALSE(HexDecode("0 ", &bytes));
  EXPECT_FALSE(HexDecode("-1", &bytes));
  EXPECT_EQ(bytes, "kept");
}

TEST(HexTest, EncodeDecodeRoundTripsEveryByte) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  std::string back;
  ASSERT_TRUE(HexDecode(HexEncode(all), &back));
  EXPECT_EQ(back, all);
}

TEST(HexTest, ParseHexNumber) {
  uint64_t value = 0;
  ASSERT_TRUE(ParseHexNumber("0", &value));
  EXPECT_EQ(value, 0u);
  ASSERT_TRUE(ParseHexNumber("ffb", &value));
  EXPECT_EQ(value, 0xffbu);
  ASSERT_TRUE(ParseHexNumber("DeadBeef", &value));
  EXPECT_EQ(value, 0xdeadbeefu);
  ASSERT_TRUE(ParseHexNumber("ffffffffffffffff", &value));
  EXPECT_EQ(value, UINT64_MAX);
  ASSERT_TRUE(ParseHexNumber("0000000000000001", &value));
  EXPECT_EQ(value, 1u);
}

TEST(HexTest, ParseHexNumberRefuses) {
  uint64_t value = 42;
  EXPECT_FALSE(ParseHexNumber("", &value));
  EXPECT_FALSE(ParseHexNumber("10000000000000000", &value));  // 17 digits
  EXPECT_FALSE(ParseHexNumber("00000000000000001", &value));  // 17 digits, small value
  EXPECT_FALSE(ParseHexNumber("12g", &value));
  EXPECT_FALSE(ParseHexNumber("-1", &value));
  EXPECT_FALSE(ParseHexNumber("0x10", &value));
  EXPECT_FALSE(ParseHexNumber(" 1", &value));
  EXPECT_EQ(value, 42u);
}

}  // namespace
}  // namespace pvm::gdb
