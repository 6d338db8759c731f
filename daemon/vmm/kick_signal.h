// The signal that knocks a vCPU thread out of KVM_RUN. Its handler does nothing:
// the point is the EINTR.
#ifndef PVMD_DAEMON_VMM_KICK_SIGNAL_H_
#define PVMD_DAEMON_VMM_KICK_SIGNAL_H_

namespace pvm::vmm {

int KickSignal();
// Process-wide, once; without SA_RESTART so KVM_RUN returns EINTR.
void InstallKickSignalHandler();
// vCPU threads may inherit a mask that blocks it (pvmd blocks signals for its
// signal thread); a blocked kick would never interrupt KVM_RUN.
void UnblockKickSignal();

}  // namespace pvm::vmm

#endif  // PVMD_DAEMON_VMM_KICK_SIGNAL_H_
