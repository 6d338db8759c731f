// The debug event log: sequence numbers, concurrent producers and subscribers,
// explicit gaps for readers that fall behind, since-sequence starts, and Close.
#include "daemon/debug/event_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <functional>
#include <latch>
#include <string>
#include <thread>
#include <vector>

namespace pvm::debug {
namespace {

using ::testing::ElementsAre;

const auto kFarDeadline = std::chrono::hours(1);

std::chrono::steady_clock::time_point Far() {
  return std::chrono::steady_clock::now() + kFarDeadline;
}
std::chrono::steady_clock::time_point Past() {
  return std::chrono::steady_clock::now() - std::chrono::seconds(1);
}

// Waits until thread `tid` sleeps in the kernel. Callers start the thread so that its
// only way to sleep is the futex inside WaitForEvents, so this tells "blocked waiting"
// apart from "not there yet" without guessing a duration.
void WaitUntilAsleep(pid_t tid) {
  const std::string path = "/proc/self/task/" + std::to_string(tid) + "/stat";
  for (;;) {
    std::ifstream stat(path);
    std::string line;
    std::getline(stat, line);
    // "tid (comm) S ...": the state follows the last ')'.
    const size_t paren = line.rfind(')');
    if (paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'S') {
      return;
    }
    std::this_thread::yield();
  }
}

// Every field derived from (producer, index), so a reader can tell a torn copy (words
// of two different events) from a whole one.
DebugEvent MakeEvent(uint32_t producer, uint32_t index) {
  DebugEvent event;
  event.sequence = 0xdeadbeef;  // Append must replace it
  event.rip = (uint64_t{producer} << 32) | index;
  event.timestamp_ns = static_cast<int64_t>(event.rip + 7);
  event.dr6 = ~event.rip;
  event.dr7 = event.rip * 0x9e3779b97f4a7c15ULL;
  event.address = event.rip ^ 0x5555aaaa5555aaaaULL;
  event.vcpu = producer;
  event.breakpoint_id = index;
  event.kind = static_cast<EventKind>(index % 4);
  event.vector = index % 2 == 0 ? 1 : 3;
  event.has_address = index % 3 == 0;
  event.stopped = index % 5 == 0;
  return event;
}

bool Intact(const DebugEvent& e) {
  const DebugEvent want =
      MakeEvent(static_cast<uint32_t>(e.rip >> 32), static_cast<uint32_t>(e.rip));
  return e.timestamp_ns == want.timestamp_ns && e.dr6 == want.dr6 && e.dr7 == want.dr7 &&
         e.address == want.address && e.vcpu == want.vcpu &&
         e.breakpoint_id == want.breakpoint_id && e.kind == want.kind && e.vector == want.vector &&
         e.has_address == want.has_address && e.stopped == want.stopped;
}

std::vector<uint64_t> Sequences(std::span<const DebugEvent> events) {
  std::vector<uint64_t> out;
  for (const DebugEvent& e : events) {
    out.push_back(e.sequence);
  }
  return out;
}

// A StreamEvents-like reader: reads batches until the log is closed, recording what it
// got so a test can check that every sequence was either delivered or reported lost.
class Subscriber {
 public:
  struct Record {
    uint64_t lost_first = 0;
    uint64_t lost_count = 0;
    std::vector<DebugEvent> events;
  };

  Subscriber(const EventLog& log, uint64_t cursor, size_t batch_size,
             std::function<void(uint64_t cursor, size_t delivered)> after_batch = nullptr)
      : log_(log),
        cursor_(cursor),
        batch_size_(batch_size),
        after_batch_(std::move(after_batch)),
        cursor_published_(cursor) {}

  void Run() {
    std::vector<DebugEvent> buffer(batch_size_);
    for (;;) {
      const EventLog::Batch batch = log_.Read(&cursor_, buffer);
      if (batch.lost_count > 0 || batch.count > 0) {
        records_.push_back({batch.lost_first, batch.lost_count,
                            std::vector<DebugEvent>(buffer.begin(), buffer.begin() + batch.count)});
        delivered_ += batch.count;
        lost_ += batch.lost_count;
        cursor_published_.store(cursor_, std::memory_order_release);
      }
      if (after_batch_) {
        after_batch_(cursor_, delivered_);
      }
      if (batch.closed) {
        return;
      }
      if (batch.count == 0 && batch.lost_count == 0) {
        log_.WaitForEvents(cursor_, Far());
      }
    }
  }

  // Checks that sequences first..last each appear exactly once, in order, either as an
  // event or inside a gap, and that every delivered event is whole.
  void ExpectAccountsFor(uint64_t first, uint64_t last) const {
    uint64_t expected = first;
    std::vector<uint32_t> next_index_per_producer;
    for (const Record& r : records_) {
      if (r.lost_count > 0) {
        ASSERT_EQ(r.lost_first, expected) << "gap does not start where the reader was";
        expected += r.lost_count;
      }
      for (const DebugEvent& e : r.events) {
        ASSERT_EQ(e.sequence, expected) << "an event was skipped or repeated";
        ++expected;
        ASSERT_TRUE(Intact(e)) << "torn event at sequence " << e.sequence;
        // One producer appends in order, so its events must arrive in order too.
        const uint32_t producer = e.vcpu;
        if (producer >= next_index_per_producer.size()) {
          next_index_per_producer.resize(producer + 1, 0);
        }
        ASSERT_GE(e.breakpoint_id, next_index_per_producer[producer]);
        next_index_per_producer[producer] = e.breakpoint_id + 1;
      }
    }
    EXPECT_EQ(expected, last + 1);
  }

  uint64_t delivered() const { return delivered_; }
  uint64_t lost() const { return lost_; }
  uint64_t cursor() const { return cursor_published_.load(std::memory_order_acquire); }

 private:
  const EventLog& log_;
  uint64_t cursor_;
  const size_t batch_size_;
  std::function<void(uint64_t, size_t)> after_batch_;
  std::vector<Record> records_;
  uint64_t delivered_ = 0;
  uint64_t lost_ = 0;
  std::atomic<uint64_t> cursor_published_;
};

TEST(EventKindTest, Names) {
  EXPECT_STREQ(EventKindName(EventKind::kHwBreakpoint), "hw-breakpoint");
  EXPECT_STREQ(EventKindName(EventKind::kWatchpoint), "watchpoint");
  EXPECT_STREQ(EventKindName(EventKind::kSwBreakpoint), "sw-breakpoint");
  EXPECT_STREQ(EventKindName(EventKind::kSingleStep), "single-step");
}

TEST(EventLogTest, CapacityIsRoundedUpToAPowerOfTwo) {
  EXPECT_EQ(EventLog(0).capacity(), 2u);
  EXPECT_EQ(EventLog(5).capacity(), 8u);
  EXPECT_EQ(EventLog(4096).capacity(), 4096u);
  EXPECT_EQ(EventLog(4097).capacity(), 8192u);
}

TEST(EventLogTest, SequencesStartAtOneAndGrowAndPayloadsSurvive) {
  EventLog log(8);
  EXPECT_EQ(log.last_sequence(), 0u);
  EXPECT_EQ(log.oldest_retained(), 1u);
  EXPECT_EQ(log.Append(MakeEvent(0, 0)), 1u);
  EXPECT_EQ(log.Append(MakeEvent(1, 1)), 2u);
  EXPECT_EQ(log.Append(MakeEvent(2, 2)), 3u);
  EXPECT_EQ(log.last_sequence(), 3u);

  std::vector<DebugEvent> out(8);
  uint64_t cursor = 1;
  const EventLog::Batch batch = log.Read(&cursor, out);
  EXPECT_EQ(batch.lost_count, 0u);
  EXPECT_FALSE(batch.closed);
  ASSERT_EQ(batch.count, 3u);
  EXPECT_EQ(cursor, 4u);
  EXPECT_THAT(Sequences(std::span(out).first(3)), ElementsAre(1, 2, 3));
  for (uint32_t i = 0; i < 3; ++i) {
    DebugEvent want = MakeEvent(i, i);
    want.sequence = i + 1;
    EXPECT_EQ(std::memcmp(&out[i], &want, offsetof(DebugEvent, kind)), 0) << i;
    EXPECT_TRUE(Intact(out[i]));
  }

  // Caught up: nothing more, and the cursor stays.
  EXPECT_EQ(log.Read(&cursor, out).count, 0u);
  EXPECT_EQ(cursor, 4u);
}

TEST(EventLogTest, SmallBatchesContinueWhereTheLastOneEnded) {
  EventLog log(16);
  for (uint32_t i = 0; i < 5; ++i) {
    log.Append(MakeEvent(0, i));
  }
  std::vector<DebugEvent> out(2);
  uint64_t cursor = 1;
  std::vector<uint64_t> seen;
  for (int reads = 0; reads < 3; ++reads) {
    const EventLog::Batch batch = log.Read(&cursor, out);
    for (size_t i = 0; i < batch.count; ++i) {
      seen.push_back(out[i].sequence);
    }
  }
  EXPECT_THAT(seen, ElementsAre(1, 2, 3, 4, 5));
}

TEST(EventLogTest, SinceOlderThanRetainedReportsTheGapFirst) {
  EventLog log(8);
  for (uint32_t i = 0; i < 20; ++i) {
    log.Append(MakeEvent(0, i));
  }
  EXPECT_EQ(log.oldest_retained(), 13u);

  std::vector<DebugEvent> out(32);
  uint64_t cursor = 1;
  const EventLog::Batch batch = log.Read(&cursor, out);
  EXPECT_EQ(batch.lost_first, 1u);
  EXPECT_EQ(batch.lost_count, 12u);
  ASSERT_EQ(batch.count, 8u);
  EXPECT_THAT(Sequences(std::span(out).first(8)), ElementsAre(13, 14, 15, 16, 17, 18, 19, 20));
  EXPECT_EQ(cursor, 21u);
}

TEST(EventLogTest, CursorZeroStartsAtTheOldestRetainedWithoutAGap) {
  EventLog log(8);
  for (uint32_t i = 0; i < 20; ++i) {
    log.Append(MakeEvent(0, i));
  }
  std::vector<DebugEvent> out(32);
  uint64_t cursor = 0;
  const EventLog::Batch batch = log.Read(&cursor, out);
  EXPECT_EQ(batch.lost_count, 0u);
  ASSERT_EQ(batch.count, 8u);
  EXPECT_EQ(out[0].sequence, 13u);
  EXPECT_EQ(cursor, 21u);
}

TEST(EventLogTest, SinceInTheMiddleStartsThere) {
  EventLog log(8);
  for (uint32_t i = 0; i < 20; ++i) {
    log.Append(MakeEvent(0, i));
  }
  std::vector<DebugEvent> out(32);
  uint64_t cursor = 15;
  const EventLog::Batch batch = log.Read(&cursor, out);
  EXPECT_EQ(batch.lost_count, 0u);
  EXPECT_THAT(Sequences(std::span(out).first(batch.count)), ElementsAre(15, 16, 17, 18, 19, 20));
}

TEST(EventLogTest, SinceInTheFutureWaitsForThatSequence) {
  EventLog log(8);
  for (uint32_t i = 0; i < 20; ++i) {
    log.Append(MakeEvent(0, i));
  }
  std::vector<DebugEvent> out(32);
  uint64_t cursor = 25;
  EventLog::Batch batch = log.Read(&cursor, out);
  EXPECT_EQ(batch.count, 0u);
  EXPECT_EQ(batch.lost_count, 0u);
  EXPECT_FALSE(batch.closed);
  EXPECT_EQ(cursor, 25u);
  EXPECT_FALSE(log.WaitForEvents(cursor, Past()));

  // Events before the cursor do not count as something to read.
  for (uint32_t i = 20; i < 24; ++i) {
    log.Append(MakeEvent(0, i));
  }
  EXPECT_FALSE(log.WaitForEvents(cursor, Past()));
  EXPECT_EQ(log.Read(&cursor, out).count, 0u);

  std::atomic<pid_t> tid{0};
  std::atomic<bool> woke{false};
  std::thread waiter([&] {
    tid = gettid();
    woke = log.WaitForEvents(25, Far());
  });
  while (tid.load() == 0) {
    std::this_thread::yield();
  }
  WaitUntilAsleep(tid.load());
  EXPECT_FALSE(woke);
  EXPECT_EQ(log.Append(MakeEvent(0, 24)), 25u);
  waiter.join();
  EXPECT_TRUE(woke);
  batch = log.Read(&cursor, out);
  EXPECT_EQ(batch.lost_count, 0u);
  EXPECT_THAT(Sequences(std::span(out).first(batch.count)), ElementsAre(25));
}

TEST(EventLogTest, ReaderThatFallsBehindBetweenReadsGetsTheExactGap) {
  EventLog log(4);
  for (uint32_t i = 0; i < 4; ++i) {
    log.Append(MakeEvent(0, i));
  }
  std::vector<DebugEvent> out(2);
  uint64_t cursor = 1;
  EventLog::Batch batch = log.Read(&cursor, out);
  EXPECT_THAT(Sequences(std::span(out).first(batch.count)), ElementsAre(1, 2));

  for (uint32_t i = 4; i < 8; ++i) {
    log.Append(MakeEvent(0, i));
  }
  std::vector<DebugEvent> more(8);
  batch = log.Read(&cursor, more);
  EXPECT_EQ(batch.lost_first, 3u);
  EXPECT_EQ(batch.lost_count, 2u);
  EXPECT_THAT(Sequences(std::span(more).first(batch.count)), ElementsAre(5, 6, 7, 8));
}

TEST(EventLogTest, WaitForEventsRespectsADeadlineInThePast) {
  EventLog log(8);
  EXPECT_FALSE(log.WaitForEvents(0, Past()));
  EXPECT_FALSE(log.WaitForEvents(1, Past()));
  EXPECT_FALSE(log.WaitForEvents(1, std::chrono::steady_clock::now()));
  log.Append(MakeEvent(0, 0));
  // Something to read: true even though the deadline passed.
  EXPECT_TRUE(log.WaitForEvents(1, Past()));
  EXPECT_TRUE(log.WaitForEvents(0, Past()));
  EXPECT_FALSE(log.WaitForEvents(2, Past()));
}

TEST(EventLogTest, CloseWakesAWaiterWithAFarDeadline) {
  EventLog log(8);
  std::atomic<pid_t> tid{0};
  std::atomic<bool> woke{false};
  std::thread waiter([&] {
    tid = gettid();
    woke = log.WaitForEvents(1, Far());
  });
  while (tid.load() == 0) {
    std::this_thread::yield();
  }
  WaitUntilAsleep(tid.load());
  log.Close();
  waiter.join();  // hangs (and the ctest timeout fails the test) if Close did not wake it
  EXPECT_TRUE(woke);
  EXPECT_TRUE(log.closed());
  std::vector<DebugEvent> out(4);
  uint64_t cursor = 1;
  const EventLog::Batch batch = log.Read(&cursor, out);
  EXPECT_EQ(batch.count, 0u);
  EXPECT_TRUE(batch.closed);
}

// A producer wakes one sleeper, which passes the wake on (see Append): every sleeping
// subscriber must still wake for one event, round after round.
TEST(EventLogTest, OneAppendWakesEverySleepingSubscriber) {
  constexpr int kSubscribers = 4;
  constexpr uint64_t kRounds = 3;
  EventLog log(8);
  std::vector<std::atomic<pid_t>> tids(kSubscribers);
  std::vector<std::atomic<uint64_t>> woken_for(kSubscribers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kSubscribers; ++i) {
    threads.emplace_back([&, i] {
      tids[i] = gettid();
      for (uint64_t round = 1; round <= kRounds; ++round) {
        if (!log.WaitForEvents(round, Far())) {
          return;
        }
        woken_for[i] = round;
      }
    });
  }
  for (uint64_t round = 1; round <= kRounds; ++round) {
    for (int i = 0; i < kSubscribers; ++i) {
      while (tids[i].load() == 0 || woken_for[i].load() != round - 1) {
        std::this_thread::yield();
      }
      WaitUntilAsleep(tids[i].load());
    }
    EXPECT_EQ(log.Append(MakeEvent(0, static_cast<uint32_t>(round))), round);
    // Hangs (and the ctest timeout fails the test) if any sleeper missed the wake.
    for (int i = 0; i < kSubscribers; ++i) {
      while (woken_for[i].load() != round) {
        std::this_thread::yield();
      }
    }
  }
  for (std::thread& t : threads) {
    t.join();
  }
}

TEST(EventLogTest, CloseStillDeliversWhatIsBufferedThenReportsClosed) {
  EventLog log(8);
  log.Append(MakeEvent(0, 0));
  log.Append(MakeEvent(0, 1));
  log.Close();
  std::vector<DebugEvent> out(1);
  uint64_t cursor = 1;
  EventLog::Batch batch = log.Read(&cursor, out);
  EXPECT_EQ(batch.count, 1u);
  EXPECT_FALSE(batch.closed);
  batch = log.Read(&cursor, out);
  EXPECT_EQ(batch.count, 1u);
  EXPECT_EQ(out[0].sequence, 2u);
  EXPECT_TRUE(batch.closed);
  batch = log.Read(&cursor, out);
  EXPECT_EQ(batch.count, 0u);
  EXPECT_TRUE(batch.closed);
  EXPECT_TRUE(log.WaitForEvents(cursor, Far()));
}

void Produce(EventLog& log, uint32_t producer, uint32_t count,
             const std::function<void()>& before_each = nullptr) {
  for (uint32_t i = 0; i < count; ++i) {
    if (before_each) {
      before_each();
    }
    log.Append(MakeEvent(producer, i));
  }
}

TEST(EventLogTest, ConcurrentProducersAndSubscribersSeeEveryEventInOrder) {
  constexpr uint32_t kProducers = 4;
  constexpr uint32_t kPerProducer = 5000;
  constexpr uint64_t kTotal = uint64_t{kProducers} * kPerProducer;
  EventLog log(kTotal);  // large enough that nothing is overwritten

  std::vector<std::unique_ptr<Subscriber>> subscribers;
  for (size_t batch_size : {1, 7, 64}) {
    subscribers.push_back(std::make_unique<Subscriber>(log, 1, batch_size));
  }
  std::vector<std::thread> threads;
  for (auto& s : subscribers) {
    threads.emplace_back([&s] { s->Run(); });
  }
  std::vector<std::thread> producers;
  for (uint32_t p = 0; p < kProducers; ++p) {
    producers.emplace_back([&log, p] { Produce(log, p, kPerProducer); });
  }
  for (std::thread& t : producers) {
    t.join();
  }
  EXPECT_EQ(log.last_sequence(), kTotal);
  log.Close();
  for (std::thread& t : threads) {
    t.join();
  }
  for (const auto& s : subscribers) {
    EXPECT_EQ(s->lost(), 0u);
    EXPECT_EQ(s->delivered(), kTotal);
    s->ExpectAccountsFor(1, kTotal);
  }
}

TEST(EventLogTest, SlowSubscriberGetsGapsForEverythingItMissedWhileAFastOneLosesNothing) {
  constexpr uint32_t kProducers = 2;
  constexpr uint32_t kPerProducer = 3000;
  constexpr uint64_t kTotal = uint64_t{kProducers} * kPerProducer;
  EventLog log(16);
  std::atomic<bool> producers_done{false};

  Subscriber fast(log, 1, 64);
  // The slow one stops every 50 events until the producers are two rings ahead of it,
  // so it is certain to fall behind, however the threads are scheduled.
  Subscriber slow(log, 1, 1, [&](uint64_t cursor, size_t delivered) {
    if (delivered % 50 != 0) {
      return;
    }
    while (!producers_done.load() && log.last_sequence() < cursor + 2 * log.capacity()) {
      std::this_thread::yield();
    }
  });
  std::thread fast_thread([&] { fast.Run(); });
  std::thread slow_thread([&] { slow.Run(); });

  // The test, not the log, holds producers back to stay within half a ring of the fast
  // subscriber: that is what "fast enough" means for a reader of a 16-event ring.
  auto throttle = [&] {
    while (log.last_sequence() + 1 > fast.cursor() + log.capacity() / 2) {
      std::this_thread::yield();
    }
  };
  std::vector<std::thread> producers;
  for (uint32_t p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] { Produce(log, p, kPerProducer, throttle); });
  }
  for (std::thread& t : producers) {
    t.join();
  }
  producers_done = true;
  log.Close();
  fast_thread.join();
  slow_thread.join();

  EXPECT_EQ(fast.lost(), 0u);
  EXPECT_EQ(fast.delivered(), kTotal);
  fast.ExpectAccountsFor(1, kTotal);

  EXPECT_GT(slow.lost(), 0u);
  EXPECT_EQ(slow.lost() + slow.delivered(), kTotal);
  slow.ExpectAccountsFor(1, kTotal);
}

TEST(EventLogTest, ProducersLappingEachOtherInATinyRingNeverTearEvents) {
  constexpr uint32_t kProducers = 4;
  constexpr uint32_t kPerProducer = 20000;
  constexpr uint64_t kTotal = uint64_t{kProducers} * kPerProducer;
  EventLog log(2);
  Subscriber reader(log, 1, 4);
  std::thread reader_thread([&] { reader.Run(); });

  std::vector<std::vector<uint64_t>> assigned(kProducers);
  std::vector<std::thread> producers;
  for (uint32_t p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (uint32_t i = 0; i < kPerProducer; ++i) {
        assigned[p].push_back(log.Append(MakeEvent(p, i)));
      }
    });
  }
  for (std::thread& t : producers) {
    t.join();
  }
  log.Close();
  reader_thread.join();

  // Every append got its own sequence, and the sequences are exactly 1..kTotal.
  std::vector<bool> seen(kTotal + 1, false);
  for (const auto& sequences : assigned) {
    for (uint64_t s : sequences) {
      ASSERT_GE(s, 1u);
      ASSERT_LE(s, kTotal);
      ASSERT_FALSE(seen[s]) << s;
      seen[s] = true;
    }
  }
  EXPECT_EQ(reader.lost() + reader.delivered(), kTotal);
  reader.ExpectAccountsFor(1, kTotal);
}

// Readers that never sleep keep copying slots the producers are overwriting, and keep
// reaching sequences a producer claimed but has not finished writing. With more threads
// than cores, readers and producers are often preempted halfway through a copy: every
// overlap must become a reported loss, never a mix of two events, and an unfinished
// event must be waited for, never skipped.
TEST(EventLogTest, ReadersRacingProducersNeverGetTornOrSkippedEvents) {
  constexpr uint32_t kThreads = 4;
  constexpr uint32_t kPerProducer = 300000;
  constexpr uint64_t kTotal = uint64_t{kThreads} * kPerProducer;
  EventLog log(2);
  struct Tally {
    uint64_t delivered = 0;
    uint64_t torn = 0;
    uint64_t out_of_order = 0;
    uint64_t end = 0;  // one past the last sequence accounted for
  };
  std::vector<Tally> tallies(kThreads);
  auto poll = [&log](Tally* tally) {
    std::vector<DebugEvent> out(2);
    uint64_t cursor = 1;
    uint64_t expected = 1;
    for (;;) {
      const EventLog::Batch batch = log.Read(&cursor, out);
      if (batch.lost_count > 0) {
        tally->out_of_order += batch.lost_first == expected ? 0 : 1;
        expected = batch.lost_first + batch.lost_count;
      }
      for (size_t i = 0; i < batch.count; ++i) {
        tally->out_of_order += out[i].sequence == expected ? 0 : 1;
        expected = out[i].sequence + 1;
        tally->torn += Intact(out[i]) ? 0 : 1;
        ++tally->delivered;
      }
      if (batch.closed) {
        break;
      }
    }
    tally->end = expected;
  };
  std::vector<std::thread> readers;
  for (uint32_t r = 0; r < kThreads; ++r) {
    readers.emplace_back(poll, &tallies[r]);
  }
  std::vector<std::thread> producers;
  for (uint32_t p = 0; p < kThreads; ++p) {
    producers.emplace_back([&log, p] { Produce(log, p, kPerProducer); });
  }
  for (std::thread& t : producers) {
    t.join();
  }
  log.Close();
  for (std::thread& t : readers) {
    t.join();
  }
  for (const Tally& tally : tallies) {
    EXPECT_EQ(tally.torn, 0u) << "of " << tally.delivered << " events delivered";
    EXPECT_EQ(tally.out_of_order, 0u);
    EXPECT_EQ(tally.end, kTotal + 1);
    EXPECT_GT(tally.delivered, 0u);
  }
}

}  // namespace
}  // namespace pvm::debug
