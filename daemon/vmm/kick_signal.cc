#include "daemon/vmm/kick_signal.h"

#include <signal.h>

#include <mutex>

namespace pvm::vmm {

int KickSignal() { return SIGRTMIN + 1; }

void InstallKickSignalHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action {};
    action.sa_handler = [](int) {};
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;
    sigaction(KickSignal(), &action, nullptr);
  });
}

void UnblockKickSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, KickSignal());
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

}  // namespace pvm::vmm
