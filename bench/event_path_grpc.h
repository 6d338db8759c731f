// The end-to-end half of event_path_bench: the real pvmd binary on a private unix
// socket, driven and followed through the generated pvm.v1 stubs, as pvmctl would.
#ifndef PVMD_BENCH_EVENT_PATH_GRPC_H_
#define PVMD_BENCH_EVENT_PATH_GRPC_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "bench/event_path_stats.h"

namespace grpc {
class Channel;
}

namespace pvm::bench {

// A pvmd child process serving a socket in a fresh temporary directory; its stderr
// goes to pvmd.log there. SIGTERM and a wait on destruction.
class PvmdProcess {
 public:
  static absl::StatusOr<std::unique_ptr<PvmdProcess>> Start(const std::string& binary,
                                                            const std::string& guest_dir);
  PvmdProcess(pid_t pid, std::string dir) : pid_(pid), dir_(std::move(dir)) {}
  PvmdProcess(const PvmdProcess&) = delete;
  PvmdProcess& operator=(const PvmdProcess&) = delete;
  ~PvmdProcess();

  pid_t pid() const { return pid_; }
  std::string target() const { return "unix:" + dir_ + "/pvmd.sock"; }
  std::string log_path() const { return dir_ + "/pvmd.log"; }
  // A channel of its own (its own connection), as a separate client would have.
  std::shared_ptr<grpc::Channel> NewChannel() const;

 private:
  pid_t pid_;
  std::string dir_;
};

struct GrpcRunOptions {
  int subscribers = 1;
  double warmup_s = 0.3;
  double seconds = 2;      // trace window
  uint32_t steps = 20000;  // per Step call
};

// Trace mode, an exec breakpoint on kstep_inc: events/s while `subscribers`
// StreamEvents(follow) calls receive them.
absl::StatusOr<Sample> GrpcTrace(const PvmdProcess& pvmd, const std::string& vm_name,
                                 const GrpcRunOptions& options);
// One Step(vCPU 0, steps) call from a stop at kstep_i0, with the subscribers following.
absl::StatusOr<Sample> GrpcStep(const PvmdProcess& pvmd, const std::string& vm_name,
                                const GrpcRunOptions& options);

}  // namespace pvm::bench

#endif  // PVMD_BENCH_EVENT_PATH_GRPC_H_
