#include "client/interrupt_watcher.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

namespace pvm::ctl {
namespace {

sigset_t InterruptSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  return signals;
}

}  // namespace

InterruptWatcher::InterruptWatcher() {
  const sigset_t signals = InterruptSignals();
  // Fails only for an invalid `how`; nothing to handle.
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  thread_ = std::thread([this] { WaitForSignals(); });
}

InterruptWatcher::~InterruptWatcher() {
  shutting_down_ = true;
  // Wakes sigwait; the watcher sees shutting_down_ and returns without acting.
  pthread_kill(thread_.native_handle(), SIGTERM);
  thread_.join();
}

void InterruptWatcher::WaitForSignals() {
  const sigset_t signals = InterruptSignals();
  while (true) {
    int signal_number = 0;
    if (sigwait(&signals, &signal_number) != 0) continue;
    if (shutting_down_) return;
    if (stop_.stop_requested()) _exit(128 + signal_number);
    stop_.request_stop();
  }
}

}  // namespace pvm::ctl
