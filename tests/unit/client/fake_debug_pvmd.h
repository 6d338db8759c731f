// An in-process fake of pvm.v1.DebugService on a private unix socket, so that
// `pvmctl debug` can be tested over real gRPC without a daemon or KVM. It knows one
// VM, answers with canned messages, records every request, and streams the event
// records a test appends (following until the test closes the log).
#ifndef PVMD_TESTS_UNIT_CLIENT_FAKE_DEBUG_PVMD_H_
#define PVMD_TESTS_UNIT_CLIENT_FAKE_DEBUG_PVMD_H_

#include <grpcpp/server.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "pvm/v1/debug.grpc.pb.h"

namespace pvm::testing {

class FakeDebugPvmd {
 public:
  // Every call for another name is NOT_FOUND.
  static constexpr const char* kVmName = "vm-7";

  FakeDebugPvmd();
  ~FakeDebugPvmd();  // ends followers, shuts the server down, removes the socket
  FakeDebugPvmd(const FakeDebugPvmd&) = delete;
  FakeDebugPvmd& operator=(const FakeDebugPvmd&) = delete;

  bool ok() const { return server_ != nullptr; }
  const std::string& socket_path() const { return socket_path_; }

  // Canned answers.
  void SetState(v1::DebugState state);
  void SetBreakpoint(v1::Breakpoint breakpoint);  // AddBreakpoint's answer
  void SetBreakpoints(v1::ListBreakpointsResponse list);
  void SetStep(v1::StepResponse step);
  void SetRegisters(v1::Registers registers);
  void SetMemory(v1::MemoryData memory);
  // The next call fails with this status instead of answering.
  void FailNextCall(grpc::Status status);

  // The event log: records streamed in order; followers get what is appended later
  // until CloseEvents (the VM is gone).
  void AppendEvents(const std::vector<v1::EventRecord>& records);
  void CloseEvents();

  // The last request of that type the fake received, if any.
  template <typename Request>
  std::optional<Request> last() {
    std::lock_guard lock(mu_);
    for (auto it = requests_.rbegin(); it != requests_.rend(); ++it) {
      if (const auto* request = dynamic_cast<const Request*>(it->get())) return *request;
    }
    return std::nullopt;
  }

 private:
  class Service;

  std::mutex mu_;
  std::condition_variable changed_;
  v1::DebugState state_;
  v1::Breakpoint breakpoint_;
  v1::ListBreakpointsResponse breakpoints_;
  v1::StepResponse step_;
  v1::Registers registers_;
  v1::MemoryData memory_;
  std::optional<grpc::Status> fail_next_;
  std::vector<v1::EventRecord> events_;
  bool events_closed_ = false;
  bool shutting_down_ = false;
  std::vector<std::unique_ptr<google::protobuf::Message>> requests_;

  std::string directory_;
  std::string socket_path_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace pvm::testing

#endif  // PVMD_TESTS_UNIT_CLIENT_FAKE_DEBUG_PVMD_H_
