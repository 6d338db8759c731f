// A VM's debug event log: a bounded ring of events whose sequence numbers only grow.
//
// Producers are vCPU threads, any number of them at once. Append never waits for a
// reader and never allocates: it claims a sequence with one fetch_add, copies the event
// into the slot that sequence maps to (overwriting the oldest event) and wakes waiters
// only when someone waits. Readers (one per StreamEvents call, any number) each keep
// their own cursor; a reader that fell a ring behind learns exactly which sequences it
// lost, so no event ever goes missing silently.
//
// Each slot is a seqlock: its stamp holds the sequence it carries and whether a
// producer is still writing it; a reader copies the payload and re-checks the stamp, so
// a slot overwritten under its feet counts as lost rather than torn.
#ifndef PVMD_DAEMON_DEBUG_EVENT_LOG_H_
#define PVMD_DAEMON_DEBUG_EVENT_LOG_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "daemon/debug/debug_event.h"

namespace pvm::debug {

class EventLog {
 public:
  // `capacity` events are retained; rounded up to a power of two (at least 2).
  explicit EventLog(size_t capacity = 4096);
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // Stores `event` (its `sequence` is ignored) and returns the sequence assigned to it.
  // Safe from any number of threads. Never waits for a reader; the one wait it can
  // have is behind another producer still copying into the same slot a whole ring
  // earlier, which needs `capacity` appends to overtake one ~60-byte copy.
  uint64_t Append(const DebugEvent& event);

  // Sequence of the newest event appended (claimed), 0 when nothing was.
  uint64_t last_sequence() const;
  // Oldest sequence a reader can still get; last_sequence() + 1 when empty.
  uint64_t oldest_retained() const;
  size_t capacity() const { return capacity_; }

  // The VM is gone or debugging ended: wakes every waiter; readers get what is still
  // buffered, then `closed`. Call it once the producers stopped: an event appended
  // after Close may be missed by a reader that already saw `closed`.
  void Close();
  bool closed() const;

  struct Batch {
    // Sequences [lost_first, lost_first + lost_count) were overwritten before this reader
    // got them. They come before every event of the batch.
    uint64_t lost_first = 0;
    uint64_t lost_count = 0;
    size_t count = 0;     // events written to the front of `out`
    bool closed = false;  // the log is closed and this reader has everything: stop reading
  };

  // Copies up to out.size() events with sequence >= *cursor, in order, into `out` and
  // moves *cursor past them (and past any gap). *cursor == 0 means "from the oldest
  // event still retained" and never yields a gap for what was overwritten before;
  // *cursor == S >= 1 means "since S" and reports whatever of S.. is gone as a gap. A
  // cursor beyond the newest event just returns nothing until it is reached. Stops at
  // an event whose producer has not finished writing it (it never skips one). Never
  // blocks.
  Batch Read(uint64_t* cursor, std::span<DebugEvent> out) const;

  // Blocks until Read(cursor) would return an event or a gap, the log is closed, or the
  // deadline passes. Returns true when there is something to read or the log is closed.
  // Subscribers call it in a loop with a short deadline so they can also notice their
  // own cancellation.
  bool WaitForEvents(uint64_t cursor, std::chrono::steady_clock::time_point deadline) const;

 private:
  // Words of a DebugEvent after its sequence (which lives in the stamp).
  static constexpr size_t kPayloadWords = sizeof(DebugEvent) / sizeof(uint64_t) - 1;

  struct alignas(64) Slot {
    // (sequence << 1) | writing. Only grows, so a reader that sees a larger sequence
    // knows its event is gone for good.
    std::atomic<uint64_t> stamp{0};
    // Atomic words rather than a DebugEvent: readers copy while a producer may be
    // overwriting, which is a data race on plain memory.
    std::array<std::atomic<uint64_t>, kPayloadWords> words{};
  };
  static_assert(sizeof(Slot) % 64 == 0);  // whole cache lines: no slot shares one

  enum class SlotState { kReady, kLost, kPending };
  SlotState Inspect(uint64_t sequence) const;
  SlotState TryCopy(uint64_t sequence, DebugEvent* out) const;
  // First sequence a reader at `cursor` should look at, given the newest sequence `last`
  // (resolves cursor 0).
  uint64_t Start(uint64_t cursor, uint64_t last) const;
  // Bumps the epoch and wakes up to `count` sleeping readers.
  void Wake(int count);

  const size_t capacity_;
  const uint64_t mask_;
  std::unique_ptr<Slot[]> slots_;
  alignas(64) std::atomic<uint64_t> next_{1};  // next sequence to hand out
  // Waiting: readers sleep on a futex on `epoch_`. A reader about to sleep raises
  // `sleeping_`; the first producer to see it raised takes it down, bumps the epoch and
  // wakes one reader, who wakes the others. So an append costs no syscall unless a
  // reader went to sleep since the last wake, and never more than one, however many
  // readers there are.
  alignas(64) mutable std::atomic<uint32_t> epoch_{0};
  mutable std::atomic<bool> sleeping_{false};
  // The last epoch whose wake a reader passed on to the other sleepers.
  mutable std::atomic<uint32_t> chained_epoch_{0};
  std::atomic<bool> closed_{false};
};

}  // namespace pvm::debug

#endif  // PVMD_DAEMON_DEBUG_EVENT_LOG_H_
