#include "daemon/vmm/console_buffer.h"

#include <algorithm>

namespace pvm::vmm {

ConsoleBuffer::ConsoleBuffer(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {
  ring_.reserve(capacity_);
}

void ConsoleBuffer::Append(std::string_view bytes) {
  if (bytes.empty()) {
    return;
  }
  {
    std::lock_guard lock(mu_);
    for (char c : bytes) {
      if (ring_.size() < capacity_) {
        ring_.push_back(c);
      } else {
        ring_[written_ % capacity_] = c;
      }
      ++written_;
    }
  }
  cv_.notify_all();
}

void ConsoleBuffer::Close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

ConsoleRead ConsoleBuffer::ReadFrom(uint64_t from) const {
  std::lock_guard lock(mu_);
  const uint64_t oldest = written_ - ring_.size();
  ConsoleRead result;
  result.offset = std::clamp(from, oldest, written_);
  result.dropped = from < oldest ? oldest - from : 0;
  result.data.reserve(written_ - result.offset);
  for (uint64_t i = result.offset; i < written_; ++i) {
    result.data.push_back(ring_[i % capacity_]);
  }
  return result;
}

bool ConsoleBuffer::WaitBeyond(uint64_t from,
                               std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mu_);
  cv_.wait_until(lock, deadline, [&] { return written_ > from || closed_; });
  return written_ > from;
}

uint64_t ConsoleBuffer::total_written() const {
  std::lock_guard lock(mu_);
  return written_;
}

bool ConsoleBuffer::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

}  // namespace pvm::vmm
