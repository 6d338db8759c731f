// The gdb stubs of every VM, by VM name: at most one per VM.
#ifndef PVMD_DAEMON_GDB_GDB_SERVERS_H_
#define PVMD_DAEMON_GDB_GDB_SERVERS_H_

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/gdb/gdb_server.h"

namespace pvm::gdb {

class GdbServers {
 public:
  // ALREADY_EXISTS while `vm` has a stub that still serves (its address in the
  // message); a finished one (its VM was deleted) is replaced.
  absl::Status CheckFree(const std::string& vm);
  // Takes the stub started for `vm`; the same ALREADY_EXISTS check, made again under
  // the lock. Returns its address.
  absl::StatusOr<std::string> Add(const std::string& vm, std::unique_ptr<GdbServer> server);
  // NOT_FOUND when `vm` has none. Returns the address it listened on.
  absl::StatusOr<std::string> Stop(const std::string& vm);
  std::optional<std::string> AddressOf(const std::string& vm) const;

 private:
  absl::Status CheckFreeLocked(const std::string& vm) const;

  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<GdbServer>> servers_;
};

}  // namespace pvm::gdb

#endif  // PVMD_DAEMON_GDB_GDB_SERVERS_H_
