// A VM's gdb stub: a listening socket and a thread that serves one gdb at a time
// (a second client waits in the backlog until the first one leaves).
#ifndef PVMD_DAEMON_GDB_GDB_SERVER_H_
#define PVMD_DAEMON_GDB_GDB_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "daemon/gdb/gdb_endpoint.h"
#include "daemon/gdb/gdb_target.h"
#include "daemon/vmm/unique_fd.h"

namespace pvm::gdb {

class GdbServer {
 public:
  // Bound and listening when this returns, so the address can be handed to gdb.
  static absl::StatusOr<std::unique_ptr<GdbServer>> Start(std::string vm_name,
                                                          std::unique_ptr<GdbTarget> target,
                                                          const GdbEndpoint& endpoint,
                                                          bool allow_remote);
  GdbServer(const GdbServer&) = delete;
  GdbServer& operator=(const GdbServer&) = delete;
  // Ends a session in progress as a detach would, then closes the socket.
  ~GdbServer();

  const std::string& address() const { return address_; }
  // The VM went away: the server has stopped serving.
  bool finished() const { return finished_.load(); }
  bool client_connected() const { return client_connected_.load(); }

  // Only Start can make one (the thread starts in the constructor).
  class PassKey {
    friend class GdbServer;
    PassKey() = default;
  };
  GdbServer(PassKey, std::string vm_name, std::unique_ptr<GdbTarget> target, BoundEndpoint bound,
            vmm::UniqueFd stop, std::string unix_path);

 private:
  void Serve();
  void ServeClient(vmm::UniqueFd client);

  const std::string vm_name_;
  std::unique_ptr<GdbTarget> target_;
  vmm::UniqueFd listen_fd_;
  vmm::UniqueFd stop_fd_;  // an eventfd: readable once the server is told to stop
  const std::string address_;
  const std::string unix_path_;  // removed when the server ends; empty for TCP
  std::atomic<bool> finished_{false};
  std::atomic<bool> client_connected_{false};
  std::thread thread_;
};

}  // namespace pvm::gdb

#endif  // PVMD_DAEMON_GDB_GDB_SERVER_H_
