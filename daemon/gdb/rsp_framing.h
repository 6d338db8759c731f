// The gdb remote serial protocol's byte layer: `$payload#cs` packets with their
// checksum, the `+`/`-` acknowledgements, and the 0x03 interrupt byte, decoded from a
// byte stream that may arrive in any pieces. No knowledge of what a packet means.
#ifndef PVMD_DAEMON_GDB_RSP_FRAMING_H_
#define PVMD_DAEMON_GDB_RSP_FRAMING_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pvm::gdb {

// The PacketSize pvmd advertises in qSupported: the most payload bytes (after
// unescaping) one packet may carry. Longer packets are dropped whole.
inline constexpr size_t kMaxPacketPayload = 16384;

struct RspEvent {
  enum class Kind {
    kPacket,     // a whole packet with a good checksum: `payload` holds it, unescaped
    kAck,        // '+'
    kNack,       // '-': the peer asks for our last packet again
    kInterrupt,  // 0x03 outside a packet: gdb's Ctrl-C
    kBadPacket,  // a packet that failed: `error` says why; the peer should get '-'
  };
  Kind kind = Kind::kPacket;
  std::string payload;
  std::string error;  // kBadPacket: "bad checksum", "packet longer than 16384 bytes", ...
  bool operator==(const RspEvent&) const = default;
};

// Turns a byte stream into events. Bytes outside a packet other than '+', '-' and
// 0x03 are ignored (gdb may send stray characters at connect). Within a packet:
// '}' escapes the next byte (XOR 0x20); a '$' restarts the packet (the broken one
// becomes a kBadPacket); the two checksum digits are hex, case-insensitive, and a
// non-hex digit makes the packet bad. A payload past max_payload is discarded as it
// arrives (memory stays bounded) and reported as one kBadPacket at its '#xx'.
class RspDecoder {
 public:
  explicit RspDecoder(size_t max_payload = kMaxPacketPayload);

  // Appends the events completed by `bytes` to *out, in stream order.
  void Feed(std::string_view bytes, std::vector<RspEvent>* out);

  // True while a packet has begun but not ended.
  bool in_packet() const;

 private:
  enum class State { kIdle, kPayload, kEscape, kChecksum1, kChecksum2 };
  void Finish(std::vector<RspEvent>* out);

  size_t max_payload_;
  State state_ = State::kIdle;
  std::string payload_;
  bool overlong_ = false;
  uint8_t sum_ = 0;       // modulo-256 sum of the raw (still escaped) payload bytes
  uint8_t received_ = 0;  // the checksum the peer sent
  bool checksum_hex_ok_ = true;
};

// `$` + payload with '$', '#', '}' and '*' escaped + `#` + two lowercase hex digits.
std::string EncodePacket(std::string_view payload);

// Lowercase hex of every byte ("\x01\xab" -> "01ab").
std::string HexEncode(std::string_view bytes);
// Hex digits pairwise back into bytes; false on an odd length or a non-hex digit.
bool HexDecode(std::string_view hex, std::string* bytes);
// A hex number of 1..16 digits; false when empty, too long or not hex.
bool ParseHexNumber(std::string_view hex, uint64_t* value);

}  // namespace pvm::gdb

#endif  // PVMD_DAEMON_GDB_RSP_FRAMING_H_
