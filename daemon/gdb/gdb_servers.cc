#include "daemon/gdb/gdb_servers.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace pvm::gdb {

absl::Status GdbServers::CheckFreeLocked(const std::string& vm) const {
  auto it = servers_.find(vm);
  if (it != servers_.end() && !it->second->finished()) {
    return absl::AlreadyExistsError(absl::StrCat("VM '", vm, "' has a gdb stub on ",
                                                 it->second->address(), " (pvmctl debug gdb ", vm,
                                                 " --stop ends it)"));
  }
  return absl::OkStatus();
}

absl::Status GdbServers::CheckFree(const std::string& vm) {
  std::lock_guard lock(mutex_);
  return CheckFreeLocked(vm);
}

absl::StatusOr<std::string> GdbServers::Add(const std::string& vm,
                                            std::unique_ptr<GdbServer> server) {
  std::unique_ptr<GdbServer> replaced;  // destroyed (joined) outside the lock
  std::lock_guard lock(mutex_);
  if (absl::Status free = CheckFreeLocked(vm); !free.ok()) {
    return free;
  }
  std::string address = server->address();
  auto& slot = servers_[vm];
  replaced = std::exchange(slot, std::move(server));
  return address;
}

absl::StatusOr<std::string> GdbServers::Stop(const std::string& vm) {
  std::unique_ptr<GdbServer> stopped;
  {
    std::lock_guard lock(mutex_);
    auto it = servers_.find(vm);
    if (it == servers_.end()) {
      return absl::NotFoundError(absl::StrCat("VM '", vm, "' has no gdb stub"));
    }
    stopped = std::move(it->second);
    servers_.erase(it);
  }
  std::string address = stopped->address();
  stopped.reset();  // ends the session and joins the server's thread, unlocked
  return address;
}

std::optional<std::string> GdbServers::AddressOf(const std::string& vm) const {
  std::lock_guard lock(mutex_);
  auto it = servers_.find(vm);
  if (it == servers_.end() || it->second->finished()) {
    return std::nullopt;
  }
  return it->second->address();
}

}  // namespace pvm::gdb
