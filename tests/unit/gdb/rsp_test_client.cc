#include "tests/unit/gdb/rsp_test_client.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <vector>

namespace pvm::gdb::testing {

using std::chrono::milliseconds;
using Kind = RspEvent::Kind;

void GdbClient::SendRaw(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    ASSERT_GT(n, 0) << "send to the stub failed";
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

std::optional<RspEvent> GdbClient::Next(milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (pending_.empty()) {
    const auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || closed_) {
      return std::nullopt;
    }
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      continue;
    }
    std::array<char, 8192> buffer{};
    ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
    if (n <= 0) {
      closed_ = true;
      continue;
    }
    raw_.append(buffer.data(), static_cast<size_t>(n));
    std::vector<RspEvent> events;
    decoder_.Feed(std::string_view(buffer.data(), static_cast<size_t>(n)), &events);
    pending_.insert(pending_.end(), events.begin(), events.end());
  }
  RspEvent event = std::move(pending_.front());
  pending_.pop_front();
  return event;
}

std::string GdbClient::ReadReply() {
  std::optional<RspEvent> event = Next();
  if (!event || event->kind != Kind::kPacket) {
    ADD_FAILURE() << "expected a packet from the stub, got "
                  << (event ? static_cast<int>(event->kind) : -1);
    return "<none>";
  }
  if (acks_) {
    SendRaw("+");
  }
  return event->payload;
}

void GdbClient::ExpectAck() {
  std::optional<RspEvent> event = Next();
  ASSERT_TRUE(event.has_value()) << "no ack from the stub";
  EXPECT_EQ(event->kind, Kind::kAck);
}

std::string GdbClient::Exchange(std::string_view payload) {
  SendPacket(payload);
  if (acks_) {
    std::optional<RspEvent> ack = Next();
    if (!ack || ack->kind != Kind::kAck) {
      ADD_FAILURE() << "no '+' for " << payload;
      return "<none>";
    }
  }
  return ReadReply();
}

void GdbClient::StartNoAckMode() {
  ASSERT_EQ(Exchange("QStartNoAckMode"), "OK");
  acks_ = false;
}

}  // namespace pvm::gdb::testing
