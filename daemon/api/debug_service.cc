#include "daemon/api/debug_service.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <vector>

#include "absl/strings/str_cat.h"
#include "daemon/api/debug_proto.h"
#include "daemon/api/grpc_status.h"
#include "daemon/debug/event_log.h"
#include "daemon/log.h"

namespace pvm::api {
namespace {

// The most one ReadMemory or WriteMemory moves (debug.proto): a hex dump, not a
// memory image, and a bound on what one request makes the daemon allocate.
constexpr size_t kMaxMemoryTransfer = size_t{1} << 20;

// Events copied out of the log per read, and so at most per EventBatch message.
constexpr size_t kEventsPerBatch = 256;

// How long a follower sleeps in the event log before it looks whether its client
// went away.
constexpr auto kCancellationPoll = std::chrono::milliseconds(200);

// A Step without a client deadline still ends; with one, the engine gives up a
// little before it, so the client gets the engine's DEADLINE_EXCEEDED message
// ("the step goes on and ends in an event") rather than its own bare one.
constexpr auto kMaxStepWait = std::chrono::seconds(60);
constexpr auto kStepReplyMargin = std::chrono::milliseconds(100);

std::chrono::steady_clock::time_point StepDeadline(const grpc::ServerContext& context) {
  const auto now = std::chrono::system_clock::now();
  auto wait = std::chrono::duration_cast<std::chrono::steady_clock::duration>(kMaxStepWait);
  if (context.deadline() < now + kMaxStepWait) {
    wait =
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(context.deadline() - now) -
        kStepReplyMargin;
  }
  return std::chrono::steady_clock::now() + std::max(wait, decltype(wait)::zero());
}

grpc::Status Refused(const char* verb, const std::string& name, const absl::Status& status) {
  LogRefused(verb, name, status);
  return ToGrpcStatus(status);
}

std::vector<std::byte> ToBytes(const std::string& data) {
  std::vector<std::byte> bytes(data.size());
  std::transform(data.begin(), data.end(), bytes.begin(),
                 [](char c) { return static_cast<std::byte>(c); });
  return bytes;
}

}  // namespace

SubscriberLimit::Slot::~Slot() {
  if (limit_ != nullptr) limit_->Release(vm_);
}

absl::StatusOr<SubscriberLimit::Slot> SubscriberLimit::Acquire(const std::string& vm) {
  {
    std::lock_guard lock(mutex_);
    uint32_t& active = active_[vm];
    if (active >= per_vm_) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "VM '", vm, "' already has ", active, " event stream(s), the most pvmd allows per VM ",
          "(limits.subscribers_per_vm / --subscribers-per-vm): end one first"));
    }
    ++active;
  }
  changed_.notify_all();
  return Slot(this, vm);
}

void SubscriberLimit::Release(const std::string& vm) {
  {
    std::lock_guard lock(mutex_);
    auto it = active_.find(vm);
    if (it != active_.end() && --it->second == 0) active_.erase(it);
  }
  changed_.notify_all();
}

uint32_t SubscriberLimit::Active(const std::string& vm) const {
  std::lock_guard lock(mutex_);
  auto it = active_.find(vm);
  return it == active_.end() ? 0 : it->second;
}

bool SubscriberLimit::WaitForActive(const std::string& vm, uint32_t count,
                                    std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_until(lock, deadline, [&] {
    auto it = active_.find(vm);
    return (it == active_.end() ? 0 : it->second) == count;
  });
}

absl::StatusOr<DebugServiceImpl::Target> DebugServiceImpl::Find(const std::string& name) {
  absl::StatusOr<std::shared_ptr<vmm::Vm>> vm = registry_.Get(name);
  if (!vm.ok()) return vm.status();
  Target target;
  target.debugger = &debug::DebuggerFor(**vm, config_);
  target.vm = *std::move(vm);
  return target;
}

void DebugServiceImpl::StateOf(const Target& target, pvm::v1::DebugState* response) const {
  ToProto(target.vm->name(), target.debugger->State(), response);
}

grpc::Status DebugServiceImpl::SetGuestDebug(grpc::ServerContext* context,
                                             const pvm::v1::SetGuestDebugRequest* request,
                                             pvm::v1::DebugState* response) {
  if (grpc::Status denied = access_.Check(context, __func__); !denied.ok()) return denied;
  absl::StatusOr<debug::StopMode> mode = FromProto(request->stop_mode());
  if (!mode.ok()) return ToGrpcStatus(mode.status());
  absl::StatusOr<Target> target = Find(request->name());
  if (!target.ok()) return ToGrpcStatus(target.status());
  const char* verb = request->enabled() ? "enable debugging" : "disable debugging";
  if (absl::Status s = target->debugger->SetEnabled(request->enabled(), *mode); !s.ok()) {
    return Refused(verb, request->name(), s);
  }
  if (request->enabled()) {
    LogInfo(request->name(), "guest debugging on (", debug::StopModeName(*mode), ")");
  } else {
    LogInfo(request->name(), "guest debugging off");
  }
  StateOf(*target, response);
  return grpc::Status::OK;
}

grpc::Status DebugServiceImpl::GetDebugState(grpc::ServerContext* context,
                                             const pvm::v1::DebugRef* request,
                                             pvm::v1::DebugState* response) {
  if (grpc::Status denied = access_.Check(context, __func__); !denied.ok()) return denied;
  absl::StatusOr<Target> target = Find(request->name());
  if (!target.ok()) return ToGrpcStatus(target.status());
  StateOf(*target, response);
  return grpc::Status::OK;
}

grpc::Status DebugServiceImpl::AddBreakpoint(grpc::ServerContext* context,
                                             const pvm::v1::AddBreakpointRequest* request,
                                             pvm::v1::Breakpoint* response) {
  if (grpc::Status denied = access_.Check(context, __func__); !denied.ok()) return denied;
  if (request->location_case() == pvm::v1::AddBreakpointRequest::LOCATION_NOT_SET) {
    return ToGrpcStatus(absl::InvalidArgumentError("give an address or a symbol"));
  }
  if (request->location_case() == pvm::v1::AddBreakpointRequest::kSymbol &&
      request->symbol().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError("the symbol is empty"));
  }
  absl::StatusOr<debug::BreakpointKind> kind = FromProto(request->kind());
  if (!kind.ok()) return ToGrpcStatus(kind.status());
  absl::StatusOr<Target> target = Find(request->name());
  if (!target.ok()) return ToGrpcStatus(target.status());

  debug::BreakpointSpec spec;
  spec.kind = *kind;
  spec.address = request->address();  // 0 when a symbol is given: the engine resolves it
  spec.length = request->length() == 0 ? 1 : request->length();
  spec.trace = request->trace();
  absl::StatusOr<debug::BreakpointInfo> breakpoint =
      target->debugger->AddBreakpoint(spec, request->symbol());
  if (!breakpoint.ok()) return Refused("add breakpoint", request->name(), breakpoint.status());
  LogInfo(request->name(), "breakpoint ", breakpoint->id, ": ",
          debug::BreakpointKindName(breakpoint->spec.kind), " at 0x",
          absl::Hex(breakpoint->spec.address), " (", breakpoint->mechanism, ")");
  ToProto(*breakpoint, response);
  return grpc::Status::OK;
}

grpc::Status DebugServiceImpl::RemoveBreakpoint(grpc::ServerContext* context,
                                                const pvm::v1::RemoveBreakpointRequest* request,
                                                pvm::v1::RemoveBreakpointResponse*) {
  if (grpc::Status denied = access_.Check(context, __func__); !denied.ok()) return denied;
  absl::StatusOr<Target> target = Find(request->name());
  if (!target.ok()) return ToGrpcStatus(target.status());
  if (absl::Status s = target->debugger->RemoveBreakpoint(request->id()); !s.ok()) {
    return Refused("remove breakpoint", request->name(), s);
  }
  LogInfo(request->name(), "breakpoint ", request->id(), " removed");
  return grpc::Status::OK;
}

grpc::Status DebugServiceImpl::ListBreakpoints(grpc::ServerContext* context,
                                               const pvm::v1::DebugRef* request,
                                               pvm::v1::ListBreakpointsResponse* response) {
  if (grpc::Status denied = access_.Check(context, __func__); !denied.ok()) return denied;
  absl::StatusOr<Target> target = Find(request->name());
  if (!target.ok()) return ToGrpcStatus(target.status());
  absl::StatusOr<std::vector<debug::BreakpointInfo>> list = target->debugger->ListBreakpoints();
  if (!list.ok()) return ToGrpcStatus(list.status());
  for (const debug::BreakpointInfo& breakpoint : *list) {
    ToProto(breakpoint, response->add_breakpoints());
  }
  return grpc::Status::OK;
}

grpc::Status DebugServiceImpl::Continue(grpc::ServerContext* context,
                                        const pvm::v1::DebugRef* request,
                                        pvm::v1::DebugState* response) {
  if (grpc::Status denied = access_.Check(context, __func__); !denied.ok()) return denied;
  absl::StatusOr<Target> target = Find(request->name());
  if (!target.ok()) return ToGrpcStatus(target.status());
  if (absl::Status s = target->debugger->Continue(); !s.ok()) {
    return Refused("continue", request->name(), s);
  }
  StateOf(*target, response);
  return grpc::Status::OK;
}

grpc::Status DebugServiceImpl::Step(grpc::ServerContext* context,
                                    const pvm::v1::StepRequest* request,
                                    pvm::v1::StepResponse* response) {
  if (grpc::Status denied = access_.Check(context, __func__); !denied.ok()) return denied;
  absl::StatusOr<Target> target = Find(request->name());
  if (!target.ok()) return ToGrpcStatus(target.status());
  const uint32_t count = request->count() == 0 ? 1 : request->count();
  absl::StatusOr<debug::StepResult> step =
      target->debugger->Step(request->vcpu(), count, StepDeadline(*context));
  if (!step.ok()) return Refused("step", request->name(), step.status());
  ToProto(*step, response);
  return grpc::Status::OK;
}

grpc::Status DebugServiceImpl::Interrupt(grpc::ServerContext* context,
                                         const pvm::v1::DebugRef* request,
                                         pvm::v1::DebugState* response) {
  if (grpc::Status denied = access_.Check(context, __func__); !denied.ok()) return denied;
  absl::StatusOr<Target> target = Find(request->name());
  if (!target.ok()) return ToGrpcStatus(target.status());
  if (absl::Status s = target->debugger->Interrupt(); !s.ok()) {
    return Refused("interrupt", request->name(), s);
  }
  StateOf(*target, response);
  return grpc::Status::OK;
}

grpc::Status DebugServiceImpl::GetRegisters(grpc::ServerContext* context,
                                            const pvm::v1::GetRegistersRequest* request,
                                            pvm::v1::Registers* response) {
  if (grpc::Status denied = access_.Check(context, __func__); !denied.ok()) return denied;
  absl::StatusOr<Target> target = Find(request->name());
  if (!target.ok()) return ToGrpcStatus(target.status());
  debug::VmDebugger& debugger = *target->debugger;
  absl::StatusOr<kvm_regs> regs = debugger.GetRegs(request->vcpu());
  if (!regs.ok()) return ToGrpcStatus(regs.status());
  absl::StatusOr<kvm_sregs> sregs = debugger.GetSregs(request->vcpu());
  if (!sregs.ok()) return ToGrpcStatus(sregs.status());
  absl::StatusOr<kvm_debugregs> debugregs = debugger.GetDebugRegs(request->vcpu());
  if (!debugregs.ok()) return ToGrpcStatus(debugregs.status());
  response->set_vcpu(request->vcpu());
  ToProto(*regs, response->mutable_general());
  ToProto(*sregs, response->mutable_special());
  ToProto(*debugregs, response->mutable_debug());
  return grpc::Status::OK;
}

grpc::Status DebugServiceImpl::SetRegisters(grpc::ServerContext* context,
                                            const pvm::v1::SetRegistersRequest* request,
                                            pvm::v1::Registers* response) {
  if (grpc::Status denied = access_.Check(context, __func__); !denied.ok()) return denied;
  absl::StatusOr<Target> target = Find(request->name());
  if (!target.ok()) return ToGrpcStatus(target.status());
  absl::StatusOr<kvm_regs> regs =
      target->debugger->SetRegs(request->vcpu(), ToRegisterChange(request->general()));
  if (!regs.ok()) return Refused("set registers", request->name(), regs.status());
  // The answer is every register as it now is, the same as GetRegisters.
  pvm::v1::GetRegistersRequest get;
  get.set_name(request->name());
  get.set_vcpu(request->vcpu());
  return GetRegisters(context, &get, response);
}

grpc::Status DebugServiceImpl::ReadMemory(grpc::ServerContext* context,
                                          const pvm::v1::ReadMemoryRequest* request,
                                          pvm::v1::MemoryData* response) {
  if (grpc::Status denied = access_.Check(context, __func__); !denied.ok()) return denied;
  if (request->length() == 0 || request->length() > kMaxMemoryTransfer) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat("cannot read ", request->length(), " bytes: give 1 byte to 1 MiB")));
  }
  absl::StatusOr<debug::AddressSpace> space = FromProto(request->space());
  if (!space.ok()) return ToGrpcStatus(space.status());
  absl::StatusOr<Target> target = Find(request->name());
  if (!target.ok()) return ToGrpcStatus(target.status());
  absl::StatusOr<std::vector<std::byte>> data =
      target->debugger->ReadMemory(*space, request->address(), request->length(), request->vcpu());
  if (!data.ok()) return ToGrpcStatus(data.status());
  response->set_address(request->address());
  response->set_data(reinterpret_cast<const char*>(data->data()), data->size());
  return grpc::Status::OK;
}

grpc::Status DebugServiceImpl::WriteMemory(grpc::ServerContext* context,
                                           const pvm::v1::WriteMemoryRequest* request,
                                           pvm::v1::WriteMemoryResponse*) {
  if (grpc::Status denied = access_.Check(context, __func__); !denied.ok()) return denied;
  if (request->data().empty() || request->data().size() > kMaxMemoryTransfer) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat("cannot write ", request->data().size(), " bytes: give 1 byte to 1 MiB")));
  }
  absl::StatusOr<debug::AddressSpace> space = FromProto(request->space());
  if (!space.ok()) return ToGrpcStatus(space.status());
  absl::StatusOr<Target> target = Find(request->name());
  if (!target.ok()) return ToGrpcStatus(target.status());
  if (absl::Status s = target->debugger->WriteMemory(*space, request->address(),
                                                     ToBytes(request->data()), request->vcpu());
      !s.ok()) {
    return Refused("write memory", request->name(), s);
  }
  return grpc::Status::OK;
}

grpc::Status DebugServiceImpl::StreamEvents(grpc::ServerContext* context,
                                            const pvm::v1::StreamEventsRequest* request,
                                            grpc::ServerWriter<pvm::v1::EventBatch>* writer) {
  if (grpc::Status denied = access_.Check(context, __func__); !denied.ok()) return denied;
  std::shared_ptr<debug::EventLog> log;
  {
    absl::StatusOr<Target> target = Find(request->name());
    if (!target.ok()) return ToGrpcStatus(target.status());
    if (!target->debugger->State().enabled) {
      return ToGrpcStatus(absl::FailedPreconditionError(
          absl::StrCat("guest debugging is off for VM '", request->name(), "': enable it first")));
    }
    // Only the log from here on: a follower must not keep a deleted VM alive.
    log = target->debugger->events();
  }
  // Released however the stream ends: the VM gone, everything sent, or the client gone
  // (noticed at the next write or cancellation poll).
  absl::StatusOr<SubscriberLimit::Slot> slot = subscribers_.Acquire(request->name());
  if (!slot.ok()) return Refused("stream events", request->name(), slot.status());
  // Counted from here on: the client's WaitForInitialMetadata says its stream is live.
  writer->SendInitialMetadata();
  // Without follow the stream is what the log holds now, even while a busy vCPU
  // keeps appending.
  const uint64_t last_wanted = log->last_sequence();
  uint64_t cursor = request->since();
  std::array<debug::DebugEvent, kEventsPerBatch> events;
  pvm::v1::EventBatch batch;  // reused: its records keep their memory between writes
  while (true) {
    const debug::EventLog::Batch read = log->Read(&cursor, events);
    if (read.lost_count > 0 || read.count > 0) {
      batch.Clear();
      if (read.lost_count > 0) {
        pvm::v1::EventGap* gap = batch.add_records()->mutable_gap();
        gap->set_first_lost(read.lost_first);
        gap->set_lost(read.lost_count);
      }
      for (size_t i = 0; i < read.count; ++i) {
        ToProto(request->name(), events[i], batch.add_records()->mutable_event());
      }
      if (!writer->Write(batch)) {
        return grpc::Status::OK;  // the client went away
      }
    }
    if (read.closed) {
      return grpc::Status::OK;  // the VM is gone and the client has everything
    }
    if (!request->follow()) {
      if (read.count == 0 || cursor > last_wanted) return grpc::Status::OK;
      continue;
    }
    if (read.count == kEventsPerBatch) {
      continue;  // more is waiting
    }
    while (!log->WaitForEvents(cursor, std::chrono::steady_clock::now() + kCancellationPoll)) {
      if (context->IsCancelled()) {
        return grpc::Status::CANCELLED;
      }
    }
  }
}

grpc::Status DebugServiceImpl::StartGdbServer(grpc::ServerContext* context,
                                              const pvm::v1::StartGdbServerRequest* request,
                                              pvm::v1::GdbServer* response) {
  if (grpc::Status denied = access_.Check(context, __func__); !denied.ok()) return denied;
  absl::StatusOr<gdb::GdbEndpoint> endpoint =
      gdb::ParseGdbEndpoint(request->listen().empty() ? "127.0.0.1:0" : request->listen());
  if (!endpoint.ok()) return ToGrpcStatus(endpoint.status());
  absl::StatusOr<Target> target = Find(request->name());
  if (!target.ok()) return ToGrpcStatus(target.status());
  const debug::DebugStateInfo state = target->debugger->State();
  if (state.enabled && state.stop_mode == debug::StopMode::kTrace) {
    return Refused("start a gdb stub", request->name(),
                   absl::FailedPreconditionError(
                       "the VM is debugged in trace mode; gdb needs all-stop (disable it first)"));
  }
  if (absl::Status free = gdb_servers_.CheckFree(request->name()); !free.ok()) {
    return ToGrpcStatus(free);
  }
  absl::StatusOr<std::unique_ptr<gdb::GdbServer>> server = gdb::GdbServer::Start(
      request->name(), gdb::MakeVmDebuggerTarget(target->vm, *target->debugger), *endpoint,
      allow_remote_gdb_);
  if (!server.ok()) return Refused("start a gdb stub", request->name(), server.status());
  absl::StatusOr<std::string> address = gdb_servers_.Add(request->name(), *std::move(server));
  if (!address.ok()) return ToGrpcStatus(address.status());
  response->set_name(request->name());
  response->set_address(*address);
  return grpc::Status::OK;
}

grpc::Status DebugServiceImpl::StopGdbServer(grpc::ServerContext* context,
                                             const pvm::v1::DebugRef* request,
                                             pvm::v1::GdbServer* response) {
  if (grpc::Status denied = access_.Check(context, __func__); !denied.ok()) return denied;
  absl::StatusOr<std::string> address = gdb_servers_.Stop(request->name());
  if (!address.ok()) return ToGrpcStatus(address.status());
  response->set_name(request->name());
  response->set_address(*address);
  return grpc::Status::OK;
}

}  // namespace pvm::api
