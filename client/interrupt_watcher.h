// Turns SIGINT and SIGTERM into a std::stop_token request, which cancels the gRPC
// call in flight (a following "vm console" ends cleanly). A second signal ends the
// process at once, in case a call does not come back.
#ifndef PVMD_CLIENT_INTERRUPT_WATCHER_H_
#define PVMD_CLIENT_INTERRUPT_WATCHER_H_

#include <atomic>
#include <stop_token>
#include <thread>

namespace pvm::ctl {

class InterruptWatcher {
 public:
  // Blocks SIGINT and SIGTERM in the calling thread and so in every thread it starts
  // later: construct it first in main, before gRPC starts its threads, or one of
  // those may take the signal and die of it.
  InterruptWatcher();
  ~InterruptWatcher();
  InterruptWatcher(const InterruptWatcher&) = delete;
  InterruptWatcher& operator=(const InterruptWatcher&) = delete;

  std::stop_token token() const { return stop_.get_token(); }

 private:
  void WaitForSignals();

  std::stop_source stop_;
  std::atomic<bool> shutting_down_{false};
  std::thread thread_;
};

}  // namespace pvm::ctl

#endif  // PVMD_CLIENT_INTERRUPT_WATCHER_H_
