#include "daemon/gdb/rsp_connection.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace pvm::gdb {

RspConnection::RspConnection(int fd, int stop_fd) : fd_(fd), stop_fd_(stop_fd) {}

void RspConnection::ReadSome(int timeout_ms) {
  std::array<pollfd, 2> fds{{{fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}}};
  const nfds_t count = stop_fd_ >= 0 ? 2 : 1;
  int ready = ::poll(fds.data(), count, timeout_ms);
  if (ready < 0 && errno == EINTR) {
    return;
  }
  if (ready < 0 || (count == 2 && fds[1].revents != 0)) {
    ended_ = true;
    return;
  }
  if (ready == 0 || fds[0].revents == 0) {
    return;
  }
  std::array<char, 4096> buffer{};
  ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), MSG_DONTWAIT);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
    return;
  }
  if (n <= 0) {
    ended_ = true;
    return;
  }
  std::vector<RspEvent> events;
  decoder_.Feed(std::string_view(buffer.data(), static_cast<size_t>(n)), &events);
  for (RspEvent& event : events) {
    pending_.push_back(std::move(event));
  }
}

RspConnection::Incoming RspConnection::Receive() {
  while (!ended_) {
    if (pending_.empty()) {
      ReadSome(-1);
      continue;
    }
    RspEvent event = std::move(pending_.front());
    pending_.pop_front();
    switch (event.kind) {
      case RspEvent::Kind::kAck:
        break;
      case RspEvent::Kind::kNack:
        if (acks_ && !last_sent_.empty()) {
          (void)WriteAll(last_sent_);
        }
        break;
      case RspEvent::Kind::kBadPacket:
        if (acks_) {
          (void)WriteAll("-");  // in no-ack mode a broken packet is just dropped
        }
        break;
      case RspEvent::Kind::kInterrupt:
        return {Incoming::Kind::kInterrupt, {}};
      case RspEvent::Kind::kPacket:
        if (acks_ && !WriteAll("+").ok()) {
          return {};
        }
        return {Incoming::Kind::kPacket, std::move(event.payload)};
    }
  }
  return {};
}

RspConnection::Poll RspConnection::PollInterrupt() {
  if (!ended_) {
    ReadSome(0);
  }
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (it->kind == RspEvent::Kind::kInterrupt) {
      pending_.erase(it);
      return Poll::kInterrupt;
    }
  }
  return ended_ ? Poll::kEnd : Poll::kNothing;
}

absl::Status RspConnection::Send(std::string_view payload) {
  last_sent_ = EncodePacket(payload);
  return WriteAll(last_sent_);
}

absl::Status RspConnection::WriteAll(std::string_view bytes) {
  while (!bytes.empty() && !ended_) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && errno == EAGAIN) {
      // A client that stops reading must not pin the server past its stop.
      std::array<pollfd, 2> fds{{{fd_, POLLOUT, 0}, {stop_fd_, POLLIN, 0}}};
      if (::poll(fds.data(), stop_fd_ >= 0 ? 2 : 1, -1) > 0 && fds[1].revents != 0) {
        ended_ = true;
      }
      continue;
    }
    if (n <= 0) {
      ended_ = true;
      return absl::UnavailableError(absl::StrCat("gdb connection: ", std::strerror(errno)));
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return ended_ ? absl::UnavailableError("gdb connection closed") : absl::OkStatus();
}

}  // namespace pvm::gdb
