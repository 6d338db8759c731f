// A VM's console output: a bounded ring of the newest bytes, addressed by an
// offset that only grows, so a reader always knows whether it missed something.
#ifndef PVMD_DAEMON_VMM_CONSOLE_BUFFER_H_
#define PVMD_DAEMON_VMM_CONSOLE_BUFFER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace pvm::vmm {

struct ConsoleRead {
  std::string data;
  uint64_t offset = 0;   // console offset of data[0]
  uint64_t dropped = 0;  // bytes between the requested offset and `offset` that are gone
};

class ConsoleBuffer {
 public:
  explicit ConsoleBuffer(size_t capacity);

  // Never blocks on readers: the oldest bytes are overwritten.
  void Append(std::string_view bytes);
  // Wakes every waiter for good; later reads still return what is buffered.
  void Close();

  // Everything buffered at or after `from` (clamped to the oldest byte kept).
  ConsoleRead ReadFrom(uint64_t from) const;
  // Waits until there are bytes beyond `from`, the buffer is closed, or the deadline
  // passes. Returns true when there is something new to read.
  bool WaitBeyond(uint64_t from, std::chrono::steady_clock::time_point deadline) const;

  uint64_t total_written() const;
  bool closed() const;

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::string ring_;      // capacity_ bytes once full
  uint64_t written_ = 0;  // bytes ever appended
  bool closed_ = false;
};

}  // namespace pvm::vmm

#endif  // PVMD_DAEMON_VMM_CONSOLE_BUFFER_H_
