#include "client/console_writer.h"

#include <algorithm>

namespace pvm::ctl {

ConsoleWriter::ConsoleWriter(absl::string_view vm_name, std::ostream& out, std::ostream& err)
    : vm_name_(vm_name), out_(out), err_(err) {}

absl::Status ConsoleWriter::Write(const v1::ConsoleChunk& chunk) {
  // The daemon says how much fell out of its buffer, and the offsets show it too
  // (the first chunk starts past 0 when the beginning is gone). Take the larger, so
  // a loss is reported even if only one of the two says so, and never twice.
  const uint64_t offset_gap = chunk.offset() > next_offset_ ? chunk.offset() - next_offset_ : 0;
  const uint64_t dropped = std::max<uint64_t>(chunk.dropped(), offset_gap);
  if (dropped > 0) {
    bytes_dropped_ += dropped;
    err_ << "pvmctl: " << vm_name_ << ": " << dropped << " console bytes dropped before offset "
         << chunk.offset() << " (pvmd's console buffer overflowed)\n"
         << std::flush;
  }
  out_.write(chunk.data().data(), static_cast<std::streamsize>(chunk.data().size()));
  out_.flush();
  next_offset_ = chunk.offset() + chunk.data().size();
  if (!out_) return absl::UnknownError("cannot write the console output");
  return absl::OkStatus();
}

}  // namespace pvm::ctl
