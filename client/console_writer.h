// Writes console chunks to an output stream as raw bytes and tells the user, on the
// error stream, where bytes were lost because pvmd's bounded buffer overflowed.
#ifndef PVMD_CLIENT_CONSOLE_WRITER_H_
#define PVMD_CLIENT_CONSOLE_WRITER_H_

#include <cstdint>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "pvm/v1/vm.pb.h"

namespace pvm::ctl {

class ConsoleWriter {
 public:
  ConsoleWriter(absl::string_view vm_name, std::ostream& out, std::ostream& err);

  // Reports a loss before the chunk, then writes its bytes and flushes, so that a
  // follower sees output as it comes. Fails only when `out` cannot be written.
  absl::Status Write(const v1::ConsoleChunk& chunk);

  uint64_t bytes_dropped() const { return bytes_dropped_; }

 private:
  std::string vm_name_;
  std::ostream& out_;
  std::ostream& err_;
  uint64_t next_offset_ = 0;  // where the next chunk starts when nothing is lost
  uint64_t bytes_dropped_ = 0;
};

}  // namespace pvm::ctl

#endif  // PVMD_CLIENT_CONSOLE_WRITER_H_
