// An in-process fake of pvmd's API (HostService and VmService) on a private unix
// socket, so the client and pvmctl can be tested over real gRPC without a daemon
// or KVM. It keeps VMs in a map and implements the API's documented behaviour:
// state transitions, the error codes and messages, console snapshots and
// followers. Tests steer it through the methods below.
#ifndef PVMD_TESTS_UNIT_CLIENT_FAKE_PVMD_H_
#define PVMD_TESTS_UNIT_CLIENT_FAKE_PVMD_H_

#include <grpcpp/server.h>

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <streambuf>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "pvm/v1/host.grpc.pb.h"
#include "pvm/v1/vm.grpc.pb.h"

namespace pvm::testing {

// What the fake stamps on VMs it creates: 2024-11-25 09:15:00.123 UTC.
inline constexpr int64_t kFakeCreatedUnixMs = 1732526100123;

class FakePvmd {
 public:
  // Listens on a fresh socket; ok() says whether that worked.
  FakePvmd();
  // Releases blocked calls and followers, shuts the server down, removes the socket.
  ~FakePvmd();
  FakePvmd(const FakePvmd&) = delete;
  FakePvmd& operator=(const FakePvmd&) = delete;

  bool ok() const { return server_ != nullptr; }
  const std::string& socket_path() const { return socket_path_; }
  std::string target() const { return "unix:" + socket_path_; }

  void SetHostInfo(v1::HostInfo info);
  // Adds a VM as if created (or as it is, for states CreateVm cannot make).
  void AddVm(v1::Vm vm);
  std::optional<v1::Vm> FindVm(const std::string& name);
  // The guest writes `bytes` to its console; followers get them.
  void AppendConsole(const std::string& name, absl::string_view bytes);
  // The bounded buffer overflowed: console bytes before `offset` are gone.
  void DropConsoleBefore(const std::string& name, uint64_t offset);
  std::optional<v1::CreateVmRequest> last_create_request();

  // From now on GetHostInfo blocks until the fake is destroyed: a hung daemon.
  void BlockHostInfo();
  // Waits until a GetHostInfo call is blocked; false after `timeout`.
  bool WaitForBlockedHostInfo(absl::Duration timeout);

 private:
  struct VmRecord {
    v1::Vm vm;
    uint64_t console_start = 0;  // console offset of console[0]
    std::string console;
    bool deleted = false;
  };
  class HostServiceImpl;
  class VmServiceImpl;

  std::shared_ptr<VmRecord> FindRecordLocked(const std::string& name);

  std::mutex mu_;
  std::condition_variable changed_;  // any state below changed
  std::map<std::string, std::shared_ptr<VmRecord>> vms_;
  v1::HostInfo host_info_;
  std::optional<v1::CreateVmRequest> last_create_request_;
  bool block_host_info_ = false;
  int blocked_host_info_calls_ = 0;
  bool shutting_down_ = false;

  std::string directory_;
  std::string socket_path_;
  std::unique_ptr<HostServiceImpl> host_service_;
  std::unique_ptr<VmServiceImpl> vm_service_;
  std::unique_ptr<grpc::Server> server_;
};

// An ostream whose text another thread can wait for: the way a test knows that
// pvmctl, running in a thread, has received and written something.
class WatchedOutput : public std::ostream {
 public:
  WatchedOutput();
  std::string text();
  // True once the output contains `needle`; false after `timeout`.
  bool WaitFor(absl::string_view needle, absl::Duration timeout);

 private:
  class Buffer : public std::streambuf {
   public:
    std::string text();
    bool WaitFor(absl::string_view needle, absl::Duration timeout);

   protected:
    std::streamsize xsputn(const char* data, std::streamsize size) override;
    int_type overflow(int_type c) override;

   private:
    std::mutex mu_;
    std::condition_variable grown_;
    std::string text_;
  };
  Buffer buffer_;
};

}  // namespace pvm::testing

#endif  // PVMD_TESTS_UNIT_CLIENT_FAKE_PVMD_H_
