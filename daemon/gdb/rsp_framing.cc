#include "daemon/gdb/rsp_framing.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace pvm::gdb {
namespace {

constexpr char kPacketStart = '$';
constexpr char kPacketEnd = '#';
constexpr char kEscape = '}';
constexpr char kInterruptByte = 0x03;
constexpr uint8_t kEscapeXor = 0x20;
constexpr char kHexDigits[] = "0123456789abcdef";

// -1 for anything but [0-9a-fA-F], so callers never index with a bad digit.
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// '*' marks a run-length repeat in replies: gdb would take a bare one in our data for
// a repeat count.
bool NeedsEscape(char c) {
  return c == kPacketStart || c == kPacketEnd || c == kEscape || c == '*';
}

void AppendHexByte(uint8_t byte, std::string* out) {
  out->push_back(kHexDigits[byte >> 4]);
  out->push_back(kHexDigits[byte & 0xf]);
}

RspEvent Simple(RspEvent::Kind kind) { return RspEvent{.kind = kind}; }

RspEvent Bad(std::string error) {
  return RspEvent{.kind = RspEvent::Kind::kBadPacket, .error = std::move(error)};
}

void ReportIdleByte(char c, std::vector<RspEvent>* out) {
  switch (c) {
    case '+':
      out->push_back(Simple(RspEvent::Kind::kAck));
      break;
    case '-':
      out->push_back(Simple(RspEvent::Kind::kNack));
      break;
    case kInterruptByte:
      out->push_back(Simple(RspEvent::Kind::kInterrupt));
      break;
    default:
      break;  // line noise between packets: gdb itself skips it too
  }
}

// Past `max` the payload is dropped at once rather than at '#', so a peer that never
// ends a packet cannot grow the buffer.
void AppendBounded(char c, size_t max, std::string* payload, bool* overlong) {
  if (*overlong) return;
  if (payload->size() >= max) {
    *overlong = true;
    std::string().swap(*payload);
    return;
  }
  payload->push_back(c);
}

void AddChecksumDigit(char c, uint8_t* received, bool* hex_ok) {
  const int value = HexValue(c);
  if (value < 0) {
    *hex_ok = false;
    return;
  }
  *received = static_cast<uint8_t>((*received << 4) | value);
}

}  // namespace

RspDecoder::RspDecoder(size_t max_payload) : max_payload_(max_payload) {}

bool RspDecoder::in_packet() const { return state_ != State::kIdle; }

void RspDecoder::Feed(std::string_view bytes, std::vector<RspEvent>* out) {
  for (char c : bytes) {
    // A '$' is always a packet start, even mid-packet: that is how the peer resyncs
    // after a lost '#xx', so the half-packet is reported instead of swallowing the next.
    if (c == kPacketStart) {
      if (in_packet()) out->push_back(Bad("packet restarted by '$'"));
      state_ = State::kPayload;
      payload_.clear();
      overlong_ = false;
      sum_ = 0;
      received_ = 0;
      checksum_hex_ok_ = true;
      continue;
    }
    switch (state_) {
      case State::kIdle:
        ReportIdleByte(c, out);
        break;
      case State::kPayload:
        if (c == kPacketEnd) {
          state_ = State::kChecksum1;
          break;
        }
        sum_ += static_cast<uint8_t>(c);
        if (c == kEscape) {
          state_ = State::kEscape;
        } else {
          AppendBounded(c, max_payload_, &payload_, &overlong_);
        }
        break;
      case State::kEscape:
        sum_ += static_cast<uint8_t>(c);
        AppendBounded(static_cast<char>(static_cast<uint8_t>(c) ^ kEscapeXor), max_payload_,
                      &payload_, &overlong_);
        state_ = State::kPayload;
        break;
      case State::kChecksum1:
        AddChecksumDigit(c, &received_, &checksum_hex_ok_);
        state_ = State::kChecksum2;
        break;
      case State::kChecksum2:
        AddChecksumDigit(c, &received_, &checksum_hex_ok_);
        Finish(out);
        break;
    }
  }
}

void RspDecoder::Finish(std::vector<RspEvent>* out) {
  state_ = State::kIdle;
  if (overlong_) {
    out->push_back(Bad(absl::StrCat("packet longer than ", max_payload_, " bytes")));
  } else if (!checksum_hex_ok_) {
    out->push_back(Bad("non-hex checksum digit"));
  } else if (received_ != sum_) {
    out->push_back(Bad(absl::StrCat("bad checksum: got ", absl::Hex(received_, absl::kZeroPad2),
                                    ", computed ", absl::Hex(sum_, absl::kZeroPad2))));
  } else {
    out->push_back(RspEvent{.kind = RspEvent::Kind::kPacket, .payload = std::move(payload_)});
  }
  payload_.clear();
}

std::string EncodePacket(std::string_view payload) {
  std::string packet;
  packet.reserve(payload.size() + 4);
  packet.push_back(kPacketStart);
  uint8_t sum = 0;
  for (char c : payload) {
    if (NeedsEscape(c)) {
      packet.push_back(kEscape);
      sum += static_cast<uint8_t>(kEscape);
      c = static_cast<char>(static_cast<uint8_t>(c) ^ kEscapeXor);
    }
    packet.push_back(c);
    sum += static_cast<uint8_t>(c);
  }
  packet.push_back(kPacketEnd);
  AppendHexByte(sum, &packet);
  return packet;
}

std::string HexEncode(std::string_view bytes) {
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (char c : bytes) AppendHexByte(static_cast<uint8_t>(c), &hex);
  return hex;
}

bool HexDecode(std::string_view hex, std::string* bytes) {
  if (hex.size() % 2 != 0) return false;
  std::string decoded;
  decoded.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int high = HexValue(hex[i]);
    const int low = HexValue(hex[i + 1]);
    if (high < 0 || low < 0) return false;
    decoded.push_back(static_cast<char>((high << 4) | low));
  }
  *bytes = std::move(decoded);
  return true;
}

bool ParseHexNumber(std::string_view hex, uint64_t* value) {
  // 16 digits is all of a uint64_t; more would need overflow checks per digit.
  if (hex.empty() || hex.size() > 16) return false;
  uint64_t result = 0;
  for (char c : hex) {
    const int digit = HexValue(c);
    if (digit < 0) return false;
    result = (result << 4) | static_cast<uint64_t>(digit);
  }
  *value = result;
  return true;
}

}  // namespace pvm::gdb
