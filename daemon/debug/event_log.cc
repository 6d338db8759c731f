#include "daemon/debug/event_log.h"

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <climits>
#include <cstring>

namespace pvm::debug {
namespace {

constexpr uint64_t Published(uint64_t sequence) { return sequence << 1; }
constexpr uint64_t Writing(uint64_t sequence) { return (sequence << 1) | 1; }
constexpr uint64_t SequenceOf(uint64_t stamp) { return stamp >> 1; }
constexpr bool IsWriting(uint64_t stamp) { return (stamp & 1) != 0; }

// Backs off while another producer finishes a slot: a few pauses for a copy in flight,
// then yield in case that producer was preempted.
void Backoff(unsigned* spins) {
  if (++*spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  } else {
    sched_yield();
  }
}

uint32_t* FutexWord(std::atomic<uint32_t>* word) {
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
  static_assert(std::atomic<uint32_t>::is_always_lock_free);
  return reinterpret_cast<uint32_t*>(word);
}

// Sleeps while *word == expected, until woken or the (CLOCK_MONOTONIC, which is what
// steady_clock reads on Linux) deadline. Spurious returns are fine: callers re-check.
// Returns true when a FUTEX_WAKE woke this thread.
bool FutexWait(std::atomic<uint32_t>* word, uint32_t expected,
               std::chrono::steady_clock::time_point deadline) {
  timespec ts{};
  const timespec* timeout = nullptr;
  if (deadline != std::chrono::steady_clock::time_point::max()) {
    const auto since_epoch = deadline.time_since_epoch();
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    ts.tv_sec = static_cast<time_t>(secs.count());
    ts.tv_nsec = static_cast<long>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - secs).count());
    timeout = &ts;
  }
  // FUTEX_WAIT_BITSET takes an absolute deadline, so retries after EINTR need no
  // recomputation.
  return syscall(SYS_futex, FutexWord(word), FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, expected,
                 timeout, nullptr, FUTEX_BITSET_MATCH_ANY) == 0;
}

void FutexWake(std::atomic<uint32_t>* word, int count) {
  syscall(SYS_futex, FutexWord(word), FUTEX_WAKE_PRIVATE, count, nullptr, nullptr, 0);
}

}  // namespace

EventLog::EventLog(size_t capacity)
    : capacity_(std::bit_ceil(std::max<size_t>(capacity, 2))),
      mask_(capacity_ - 1),
      slots_(std::make_unique<Slot[]>(capacity_)) {}

uint64_t EventLog::Append(const DebugEvent& event) {
  std::array<uint64_t, kPayloadWords + 1> words;
  std::memcpy(words.data(), &event, sizeof(event));

  const uint64_t sequence = next_.fetch_add(1, std::memory_order_relaxed);
  Slot& slot = slots_[sequence & mask_];
  uint64_t stamp = slot.stamp.load(std::memory_order_acquire);
  for (unsigned spins = 0;;) {
    if (SequenceOf(stamp) > sequence) {
      // A producer a ring ahead took the slot while this one was between claiming the
      // sequence and the slot: the event is overwritten already, and readers see the
      // newer stamp and count it as lost.
      return sequence;
    }
    if (IsWriting(stamp)) {
      Backoff(&spins);
      stamp = slot.stamp.load(std::memory_order_acquire);
      continue;
    }
    if (slot.stamp.compare_exchange_weak(stamp, Writing(sequence), std::memory_order_acquire,
                                         std::memory_order_acquire)) {
      break;
    }
  }
  // Release stores: a reader whose (acquire) word load sees one of these values also
  // sees the Writing stamp above when it re-checks, so it never accepts a mixed copy.
  for (size_t i = 0; i < kPayloadWords; ++i) {
    slot.words[i].store(words[i + 1], std::memory_order_release);
  }
  // seq_cst, paired with the reader's seq_cst store of sleeping_ and load of the stamp:
  // either the reader sees this event or this producer sees the reader's flag. The plain
  // load first keeps the flag's cache line shared while nobody sleeps.
  slot.stamp.store(Published(sequence), std::memory_order_seq_cst);
  if (sleeping_.load(std::memory_order_seq_cst) &&
      sleeping_.exchange(false, std::memory_order_seq_cst)) {
    // One reader only: waking every sleeping subscriber costs the kernel time per
    // thread, which the reader woken here pays instead of the vCPU thread.
    Wake(1);
  }
  return sequence;
}

uint64_t EventLog::last_sequence() const { return next_.load(std::memory_order_acquire) - 1; }

uint64_t EventLog::oldest_retained() const { return Start(0, last_sequence()); }

void EventLog::Close() {
  closed_.store(true, std::memory_order_seq_cst);
  Wake(INT_MAX);
}

bool EventLog::closed() const { return closed_.load(std::memory_order_acquire); }

void EventLog::Wake(int count) {
  epoch_.fetch_add(1, std::memory_order_seq_cst);
  FutexWake(&epoch_, count);
}

uint64_t EventLog::Start(uint64_t cursor, uint64_t last) const {
  if (cursor != 0) {
    return cursor;
  }
  return last < capacity_ ? 1 : last - capacity_ + 1;
}

EventLog::SlotState EventLog::Inspect(uint64_t sequence) const {
  const uint64_t stamp = slots_[sequence & mask_].stamp.load(std::memory_order_seq_cst);
  if (SequenceOf(stamp) > sequence) {
    return SlotState::kLost;
  }
  return stamp == Published(sequence) ? SlotState::kReady : SlotState::kPending;
}

EventLog::SlotState EventLog::TryCopy(uint64_t sequence, DebugEvent* out) const {
  const Slot& slot = slots_[sequence & mask_];
  const uint64_t stamp = slot.stamp.load(std::memory_order_acquire);
  if (SequenceOf(stamp) > sequence) {
    return SlotState::kLost;
  }
  if (stamp != Published(sequence)) {
    // Claimed but not written yet (or not claimed at all).
    return SlotState::kPending;
  }
  std::array<uint64_t, kPayloadWords + 1> words;
  words[0] = sequence;
  // Acquire loads keep the stamp re-check below after every word load, without a
  // fence (which ThreadSanitizer cannot model).
  for (size_t i = 0; i < kPayloadWords; ++i) {
    words[i + 1] = slot.words[i].load(std::memory_order_acquire);
  }
  if (slot.stamp.load(std::memory_order_relaxed) != stamp) {
    // Stamps only grow, so the slot now belongs to a later sequence.
    return SlotState::kLost;
  }
  // DebugEvent is trivially copyable; its default member initializers only make it
  // non-trivial to construct.
  std::memcpy(static_cast<void*>(out), words.data(), sizeof(*out));
  return SlotState::kReady;
}

EventLog::Batch EventLog::Read(uint64_t* cursor, std::span<DebugEvent> out) const {
  Batch batch;
  // Read `closed` before the newest sequence: if the log was closed then, nothing
  // appended before Close can be beyond `last`.
  const bool was_closed = closed();
  const uint64_t last = last_sequence();
  uint64_t next = Start(*cursor, last);

  // Everything a full ring behind the newest claimed sequence is gone (or about to be
  // overwritten by a producer that already claimed its slot).
  if (last >= capacity_ && next <= last - capacity_) {
    batch.lost_first = next;
    batch.lost_count = last - capacity_ + 1 - next;
    next = last - capacity_ + 1;
  }
  while (next <= last && batch.count < out.size()) {
    const SlotState state = TryCopy(next, &out[batch.count]);
    if (state == SlotState::kPending) {
      break;
    }
    if (state == SlotState::kLost) {
      // A gap comes before every event of a batch; a gap after events waits for the
      // next Read.
      if (batch.count > 0) {
        break;
      }
      if (batch.lost_count == 0) {
        batch.lost_first = next;
      }
      ++batch.lost_count;
      ++next;
      continue;
    }
    ++batch.count;
    ++next;
  }
  *cursor = next;
  batch.closed = was_closed && next > last;
  return batch;
}

bool EventLog::WaitForEvents(uint64_t cursor,
                             std::chrono::steady_clock::time_point deadline) const {
  for (;;) {
    // The epoch is read before the flag is raised: a producer that takes the flag down
    // after that bumps the epoch after this read, so the futex wait below cannot sleep
    // through its wake, even when the flag it took down was raised by another reader.
    const uint32_t epoch = epoch_.load(std::memory_order_seq_cst);
    sleeping_.store(true, std::memory_order_seq_cst);
    const uint64_t last = last_sequence();
    const uint64_t next = Start(cursor, last);
    if (closed_.load(std::memory_order_seq_cst) ||
        (last >= capacity_ && next <= last - capacity_) || Inspect(next) != SlotState::kPending) {
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    if (FutexWait(&epoch_, epoch, deadline)) {
      // A producer wakes a single reader (see Append), which passes the wake on to the
      // rest: once per epoch, by the first reader woken that finds the epoch moved on.
      // Its wake comes after the epoch changed, so it reaches everyone who went to sleep
      // on an older one; readers it wakes that slept on the new epoch pass nothing on,
      // or woken readers would keep waking each other.
      const uint32_t now = epoch_.load(std::memory_order_seq_cst);
      if (now != epoch && chained_epoch_.exchange(now, std::memory_order_seq_cst) != now) {
        FutexWake(&epoch_, INT_MAX);
      }
    }
  }
}

}  // namespace pvm::debug
