// libFuzzer target: arbitrary bytes as what a gdb peer sends pvmd. Besides "no crash,
// no UB", it checks the framing and parsing contracts on every event and command.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string_view>
#include <variant>
#include <vector>

#include "daemon/gdb/gdb_command.h"
#include "daemon/gdb/rsp_framing.h"

namespace {

using pvm::gdb::Command;
using pvm::gdb::EncodePacket;
using pvm::gdb::kMaxPacketPayload;
using pvm::gdb::kMaxTransfer;
using pvm::gdb::RspDecoder;
using pvm::gdb::RspEvent;

constexpr size_t kSmallPayload = 64;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "contract violated: %s\n", what);
  __builtin_trap();
}

void CheckCommand(std::string_view payload, const Command& command) {
  if (const auto* read = std::get_if<pvm::gdb::ReadMemory>(&command)) {
    if (read->length > kMaxTransfer) Fail("m length past kMaxTransfer");
  } else if (const auto* write = std::get_if<pvm::gdb::WriteMemory>(&command)) {
    if (write->bytes.size() > kMaxTransfer) Fail("M/X data past kMaxTransfer");
  } else if (const auto* xfer = std::get_if<pvm::gdb::ReadFeatures>(&command)) {
    if (xfer->length > kMaxTransfer) Fail("qXfer length not clamped");
  } else if (const auto* bad = std::get_if<pvm::gdb::Malformed>(&command)) {
    if (bad->why.empty()) Fail("Malformed without a reason");
  } else if (const auto* unsupported = std::get_if<pvm::gdb::Unsupported>(&command)) {
    if (unsupported->payload != payload) Fail("Unsupported does not carry the payload");
  }
}

// Whatever pvmd could send must come back through the decoder unchanged.
void CheckRoundTrip(std::string_view payload) {
  RspDecoder decoder;
  std::vector<RspEvent> events;
  decoder.Feed(EncodePacket(payload), &events);
  if (events.size() != 1 || events[0].kind != RspEvent::Kind::kPacket) {
    Fail("EncodePacket output is not one packet");
  }
  if (events[0].payload != payload) Fail("EncodePacket round trip changed the payload");
  if (decoder.in_packet()) Fail("decoder still in a packet after a whole one");
}

void CheckEvent(const RspEvent& event) {
  if (event.payload.size() > kMaxPacketPayload) Fail("payload past kMaxPacketPayload");
  if (event.kind == RspEvent::Kind::kBadPacket && event.error.empty()) {
    Fail("bad packet without an error");
  }
  if (event.kind != RspEvent::Kind::kPacket) return;
  CheckCommand(event.payload, pvm::gdb::ParseCommand(event.payload));
  CheckRoundTrip(event.payload);
}

// Feeds `input` in two pieces, split where its first byte says, so that the state the
// decoder carries across Feed calls is fuzzed as well as a whole stream.
std::vector<RspEvent> DecodeInTwo(std::string_view input, size_t max_payload) {
  const size_t split =
      input.empty() ? 0 : std::min<size_t>(static_cast<uint8_t>(input[0]), input.size());
  RspDecoder decoder(max_payload);
  std::vector<RspEvent> events;
  decoder.Feed(input.substr(0, split), &events);
  decoder.Feed(input.substr(split), &events);
  return events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  for (const RspEvent& event : DecodeInTwo(input, kMaxPacketPayload)) CheckEvent(event);
  // libFuzzer's inputs rarely reach 16 KiB, so a small limit is what exercises the
  // overlong-packet path.
  for (const RspEvent& event : DecodeInTwo(input, kSmallPayload)) {
    if (event.payload.size() > kSmallPayload) Fail("payload past a small max_payload");
  }

  CheckCommand(input, pvm::gdb::ParseCommand(input));
  if (input.size() <= kMaxPacketPayload) CheckRoundTrip(input);
  return 0;
}
