// One gdb client's byte stream on a socket: packets in and out with the protocol's
// acknowledgements (or none, after QStartNoAckMode), retransmission on '-', and the
// 0x03 interrupt byte noticed while the guest runs. Knows nothing of commands.
#ifndef PVMD_DAEMON_GDB_RSP_CONNECTION_H_
#define PVMD_DAEMON_GDB_RSP_CONNECTION_H_

#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "daemon/gdb/rsp_framing.h"

namespace pvm::gdb {

class RspConnection {
 public:
  // `fd`: the connected socket (not owned). `stop_fd`: readable when the server is
  // told to stop (not owned; -1 for none): every wait ends then.
  RspConnection(int fd, int stop_fd);

  struct Incoming {
    enum class Kind { kPacket, kInterrupt, kEnd };
    Kind kind = Kind::kEnd;
    std::string payload;  // kPacket
  };
  // Blocks until the next packet or interrupt. kEnd: the peer closed, the socket
  // failed, or stop_fd fired; every later call returns kEnd too.
  Incoming Receive();

  // While the guest runs: has the peer sent 0x03 (or gone away)? Never blocks.
  // Packets that arrive meanwhile are kept for Receive.
  enum class Poll { kNothing, kInterrupt, kEnd };
  Poll PollInterrupt();

  // Sends `payload` as one packet (remembered for a retransmission on '-').
  absl::Status Send(std::string_view payload);

  // From now on neither side acknowledges (QStartNoAckMode, after its OK).
  void DisableAcks() { acks_ = false; }
  bool ended() const { return ended_; }

 private:
  // Reads what the socket has (waiting up to timeout_ms, -1 forever) into pending_.
  void ReadSome(int timeout_ms);
  absl::Status WriteAll(std::string_view bytes);

  int fd_;
  int stop_fd_;
  bool acks_ = true;
  bool ended_ = false;
  RspDecoder decoder_;
  std::deque<RspEvent> pending_;
  std::string last_sent_;
};

}  // namespace pvm::gdb

#endif  // PVMD_DAEMON_GDB_RSP_CONNECTION_H_
