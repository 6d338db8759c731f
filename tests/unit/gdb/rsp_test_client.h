// gdb's side of an RSP connection for tests: packets out over a socket (one end of a
// socketpair the stub serves), the stub's acks and packets decoded back in. Every wait
// is a poll on the socket, bounded by the client's timeout.
#ifndef PVMD_TESTS_UNIT_GDB_RSP_TEST_CLIENT_H_
#define PVMD_TESTS_UNIT_GDB_RSP_TEST_CLIENT_H_

#include <chrono>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/gdb/rsp_framing.h"

namespace pvm::gdb::testing {

// Generous: a wait that reaches it means the stub is stuck, not slow.
inline constexpr std::chrono::milliseconds kRspTestTimeout{10000};

class GdbClient {
 public:
  // `fd`: not owned. `timeout`: the default bound of Next.
  explicit GdbClient(int fd, std::chrono::milliseconds timeout = kRspTestTimeout)
      : fd_(fd), timeout_(timeout) {}

  void SendRaw(std::string_view bytes);
  void SendPacket(std::string_view payload) { SendRaw(EncodePacket(payload)); }

  // The next thing the stub sent; nullopt at the deadline or when it closed.
  std::optional<RspEvent> Next() { return Next(timeout_); }
  std::optional<RspEvent> Next(std::chrono::milliseconds timeout);

  // The next packet's payload, acknowledged as gdb does; "<none>" when nothing came.
  // With acks on, an ack must come first.
  std::string ReadReply();

  void ExpectAck();

  // One request and its reply, with acks while they are on.
  std::string Exchange(std::string_view payload);

  void StartNoAckMode();

  // True once the stub sent nothing more within `timeout` (or closed).
  bool Quiet(std::chrono::milliseconds timeout) { return !Next(timeout).has_value(); }

  bool acks() const { return acks_; }
  bool closed() const { return closed_; }
  const std::string& raw() const { return raw_; }

 private:
  int fd_;
  std::chrono::milliseconds timeout_;
  bool acks_ = true;
  bool closed_ = false;
  RspDecoder decoder_;
  std::deque<RspEvent> pending_;
  std::string raw_;  // every byte the stub sent
};

}  // namespace pvm::gdb::testing

#endif  // PVMD_TESTS_UNIT_GDB_RSP_TEST_CLIENT_H_
