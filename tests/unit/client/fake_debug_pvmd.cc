#include "tests/unit/client/fake_debug_pvmd.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"

namespace pvm::testing {

namespace {

// The stub address the fake reports, as pvmd does: what gdb's `target remote` takes.
v1::GdbServer GdbServerOf(const std::string& name) {
  v1::GdbServer server;
  server.set_name(name);
  server.set_address("127.0.0.1:40123");
  return server;
}

}  // namespace

class FakeDebugPvmd::Service final : public v1::DebugService::Service {
 public:
  explicit Service(FakeDebugPvmd& fake) : fake_(fake) {}

  grpc::Status SetGuestDebug(grpc::ServerContext*, const v1::SetGuestDebugRequest* request,
                             v1::DebugState* response) override {
    return Answer(*request, request->name(), fake_.state_, response);
  }
  grpc::Status GetDebugState(grpc::ServerContext*, const v1::DebugRef* request,
                             v1::DebugState* response) override {
    return Answer(*request, request->name(), fake_.state_, response);
  }
  grpc::Status AddBreakpoint(grpc::ServerContext*, const v1::AddBreakpointRequest* request,
                             v1::Breakpoint* response) override {
    return Answer(*request, request->name(), fake_.breakpoint_, response);
  }
  grpc::Status RemoveBreakpoint(grpc::ServerContext*, const v1::RemoveBreakpointRequest* request,
                                v1::RemoveBreakpointResponse* response) override {
    return Answer(*request, request->name(), v1::RemoveBreakpointResponse(), response);
  }
  grpc::Status ListBreakpoints(grpc::ServerContext*, const v1::DebugRef* request,
                               v1::ListBreakpointsResponse* response) override {
    return Answer(*request, request->name(), fake_.breakpoints_, response);
  }
  grpc::Status Continue(grpc::ServerContext*, const v1::DebugRef* request,
                        v1::DebugState* response) override {
    return Answer(*request, request->name(), fake_.state_, response);
  }
  grpc::Status Step(grpc::ServerContext*, const v1::StepRequest* request,
                    v1::StepResponse* response) override {
    return Answer(*request, request->name(), fake_.step_, response);
  }
  grpc::Status Interrupt(grpc::ServerContext*, const v1::DebugRef* request,
                         v1::DebugState* response) override {
    return Answer(*request, request->name(), fake_.state_, response);
  }
  grpc::Status StartGdbServer(grpc::ServerContext*, const v1::StartGdbServerRequest* request,
                              v1::GdbServer* response) override {
    return Answer(*request, request->name(), GdbServerOf(request->name()), response);
  }
  grpc::Status StopGdbServer(grpc::ServerContext*, const v1::DebugRef* request,
                             v1::GdbServer* response) override {
    return Answer(*request, request->name(), GdbServerOf(request->name()), response);
  }
  grpc::Status GetRegisters(grpc::ServerContext*, const v1::GetRegistersRequest* request,
                            v1::Registers* response) override {
    return Answer(*request, request->name(), fake_.registers_, response);
  }
  grpc::Status SetRegisters(grpc::ServerContext*, const v1::SetRegistersRequest* request,
                            v1::Registers* response) override {
    return Answer(*request, request->name(), fake_.registers_, response);
  }
  grpc::Status ReadMemory(grpc::ServerContext*, const v1::ReadMemoryRequest* request,
                          v1::MemoryData* response) override {
    return Answer(*request, request->name(), fake_.memory_, response);
  }
  grpc::Status WriteMemory(grpc::ServerContext*, const v1::WriteMemoryRequest* request,
                           v1::WriteMemoryResponse* response) override {
    return Answer(*request, request->name(), v1::WriteMemoryResponse(), response);
  }

  // What is in the log (records from `since` on: gaps always), then with follow
  // what is appended, until the log is closed or the client goes.
  grpc::Status StreamEvents(grpc::ServerContext* context, const v1::StreamEventsRequest* request,
                            grpc::ServerWriter<v1::EventBatch>* writer) override {
    std::unique_lock lock(fake_.mu_);
    if (grpc::Status refused = RecordLocked(*request, request->name()); !refused.ok()) {
      return refused;
    }
    size_t next = 0;
    while (true) {
      v1::EventBatch batch;
      for (; next < fake_.events_.size(); ++next) {
        const v1::EventRecord& record = fake_.events_[next];
        if (record.has_event() && record.event().sequence() < request->since()) continue;
        *batch.add_records() = record;
      }
      if (batch.records_size() > 0) {
        lock.unlock();
        const bool written = writer->Write(batch);
        lock.lock();
        if (!written) return grpc::Status(grpc::StatusCode::CANCELLED, "client gone");
      }
      if (!request->follow() || fake_.events_closed_ || fake_.shutting_down_) {
        return grpc::Status::OK;
      }
      // Polls for the client's cancellation, which no condition variable signals.
      while (next == fake_.events_.size() && !fake_.events_closed_ && !fake_.shutting_down_ &&
             !context->IsCancelled()) {
        fake_.changed_.wait_for(lock, std::chrono::milliseconds(20));
      }
      if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    }
  }

 private:
  // Records the request; the status to answer with, if not OK.
  grpc::Status RecordLocked(const google::protobuf::Message& request, const std::string& name) {
    std::unique_ptr<google::protobuf::Message> copy(request.New());
    copy->CopyFrom(request);
    fake_.requests_.push_back(std::move(copy));
    if (fake_.fail_next_.has_value()) {
      grpc::Status status = *std::move(fake_.fail_next_);
      fake_.fail_next_.reset();
      return status;
    }
    if (name != kVmName) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("no VM named '", name, "'"));
    }
    return grpc::Status::OK;
  }

  template <typename Request, typename Response>
  grpc::Status Answer(const Request& request, const std::string& name, const Response& canned,
                      Response* response) {
    std::lock_guard lock(fake_.mu_);
    if (grpc::Status refused = RecordLocked(request, name); !refused.ok()) return refused;
    *response = canned;
    return grpc::Status::OK;
  }

  FakeDebugPvmd& fake_;
};

FakeDebugPvmd::FakeDebugPvmd() : service_(std::make_unique<Service>(*this)) {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "pvmctl-debug-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) return;
  directory_ = pattern;
  socket_path_ = directory_ + "/pvmd.sock";
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket_path_, grpc::InsecureServerCredentials());
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
}

FakeDebugPvmd::~FakeDebugPvmd() {
  {
    std::lock_guard lock(mu_);
    shutting_down_ = true;
    changed_.notify_all();
  }
  if (server_ != nullptr) server_->Shutdown();
  if (!directory_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }
}

void FakeDebugPvmd::SetState(v1::DebugState state) {
  std::lock_guard lock(mu_);
  state_ = std::move(state);
}

void FakeDebugPvmd::SetBreakpoint(v1::Breakpoint breakpoint) {
  std::lock_guard lock(mu_);
  breakpoint_ = std::move(breakpoint);
}

void FakeDebugPvmd::SetBreakpoints(v1::ListBreakpointsResponse list) {
  std::lock_guard lock(mu_);
  breakpoints_ = std::move(list);
}

void FakeDebugPvmd::SetStep(v1::StepResponse step) {
  std::lock_guard lock(mu_);
  step_ = std::move(step);
}

void FakeDebugPvmd::SetRegisters(v1::Registers registers) {
  std::lock_guard lock(mu_);
  registers_ = std::move(registers);
}

void FakeDebugPvmd::SetMemory(v1::MemoryData memory) {
  std::lock_guard lock(mu_);
  memory_ = std::move(memory);
}

void FakeDebugPvmd::FailNextCall(grpc::Status status) {
  std::lock_guard lock(mu_);
  fail_next_ = std::move(status);
}

void FakeDebugPvmd::AppendEvents(const std::vector<v1::EventRecord>& records) {
  std::lock_guard lock(mu_);
  events_.insert(events_.end(), records.begin(), records.end());
  changed_.notify_all();
}

void FakeDebugPvmd::CloseEvents() {
  std::lock_guard lock(mu_);
  events_closed_ = true;
  changed_.notify_all();
}

}  // namespace pvm::testing
