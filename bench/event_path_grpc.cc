#include "bench/event_path_grpc.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/grpc_call.h"
#include "pvm/v1/debug.grpc.pb.h"
#include "pvm/v1/vm.grpc.pb.h"

extern char** environ;

namespace pvm::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kPatience = std::chrono::seconds(20);

// A `pvmctl debug events --follow` in miniature: one StreamEvents call on its own
// channel and thread, tallying what arrives.
class StreamSubscriber {
 public:
  StreamSubscriber(std::shared_ptr<grpc::Channel> channel, const std::string& vm,
                   const Window& window, Countdown& first_event)
      : channel_(std::move(channel)), window_(window), first_event_(first_event) {
    request_.set_name(vm);
    request_.set_follow(true);
    request_.set_since(1);
    thread_ = std::thread([this] { Run(); });
  }
  ~StreamSubscriber() {
    if (thread_.joinable()) {
      context_.TryCancel();
      thread_.join();
    }
  }

  // Waits for the stream to end (the VM was deleted); cancels it after the deadline.
  void Finish(Clock::time_point deadline) {
    while (!done_.load() && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (!done_.load()) {
      context_.TryCancel();
    }
    thread_.join();
  }
  const Tally& tally() const { return tally_; }
  // status() is final once done().
  bool done() const { return done_.load(); }
  const grpc::Status& status() const { return status_; }

 private:
  void Run() {
    auto stub = pvm::v1::DebugService::NewStub(channel_);
    std::unique_ptr<grpc::ClientReader<pvm::v1::EventBatch>> reader =
        stub->StreamEvents(&context_, request_);
    pvm::v1::EventBatch batch;
    bool counted = false;
    while (reader->Read(&batch)) {
      const int64_t now = RealtimeNs();
      tally_.Read();
      for (const pvm::v1::EventRecord& record : batch.records()) {
        if (record.has_gap()) {
          tally_.Gap(record.gap().first_lost(), record.gap().lost());
        } else {
          tally_.Event(record.event().sequence(), record.event().timestamp_unix_ns(), now, window_);
        }
      }
      if (!counted && tally_.events() > 0) {
        counted = true;
        first_event_.CountDown();
      }
    }
    status_ = reader->Finish();
    done_.store(true);
  }

  std::shared_ptr<grpc::Channel> channel_;
  const Window& window_;
  Countdown& first_event_;
  pvm::v1::StreamEventsRequest request_;
  grpc::ClientContext context_;
  Tally tally_;
  grpc::Status status_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// A kstep VM with debugging on (all-stop) and an exec breakpoint at `symbol`, its
// subscribers following from event 1, and vCPU 0 stopped on that breakpoint: every
// subscriber has its stream open before the measured events come.
class Session {
 public:
  Session(const PvmdProcess& pvmd, std::string vm, int subscribers)
      : pvmd_(pvmd),
        channel_(pvmd.NewChannel()),
        vms_(pvm::v1::VmService::NewStub(channel_)),
        debug_(pvm::v1::DebugService::NewStub(channel_)),
        vm_(std::move(vm)),
        subscriber_count_(subscribers),
        first_event_(subscribers) {}
  ~Session() { (void)Delete(); }

  absl::Status StopAt(const std::string& symbol) {
    pvm::v1::CreateVmRequest create;
    create.set_name(vm_);
    create.set_image("builtin:kstep");
    create.set_memory_mib(16);
    pvm::v1::Vm created;
    if (absl::Status s =
            Call("CreateVm", [&](auto* c) { return vms_->CreateVm(c, create, &created); });
        !s.ok()) {
      return s;
    }
    created_ = true;
    if (absl::Status s = SetMode(pvm::v1::STOP_MODE_ALL_STOP); !s.ok()) {
      return s;
    }
    pvm::v1::AddBreakpointRequest add;
    add.set_name(vm_);
    add.set_symbol(symbol);
    add.set_kind(pvm::v1::BREAKPOINT_KIND_EXEC);
    pvm::v1::Breakpoint bp;
    if (absl::Status s =
            Call("AddBreakpoint", [&](auto* c) { return debug_->AddBreakpoint(c, add, &bp); });
        !s.ok()) {
      return s;
    }
    breakpoint_id_ = bp.id();
    // StreamEvents needs the VM and debugging on; the VM has not run yet, so the
    // followers see every event from the first.
    for (int i = 0; i < subscriber_count_; ++i) {
      subscribers_.push_back(
          std::make_unique<StreamSubscriber>(pvmd_.NewChannel(), vm_, window_, first_event_));
    }
    pvm::v1::VmRef ref;
    ref.set_name(vm_);
    pvm::v1::Vm started;
    if (absl::Status s = Call("StartVm", [&](auto* c) { return vms_->StartVm(c, ref, &started); });
        !s.ok()) {
      return s;
    }
    if (!first_event_.WaitUntil(Clock::now() + kPatience)) {
      for (const auto& subscriber : subscribers_) {
        if (subscriber->done() && !subscriber->status().ok()) {
          return FromGrpc("StreamEvents", subscriber->status());
        }
      }
      return absl::DeadlineExceededError("a subscriber never received the first event");
    }
    const auto deadline = Clock::now() + kPatience;
    for (;;) {
      absl::StatusOr<pvm::v1::DebugState> state = State();
      if (!state.ok()) {
        return state.status();
      }
      if (state->vcpus_size() > 0 && state->vcpus(0).stopped()) {
        return absl::OkStatus();
      }
      if (Clock::now() > deadline) {
        return absl::DeadlineExceededError("vCPU 0 never stopped at " + symbol);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  absl::Status SetMode(pvm::v1::StopMode mode) {
    pvm::v1::SetGuestDebugRequest request;
    request.set_name(vm_);
    request.set_enabled(true);
    request.set_stop_mode(mode);
    pvm::v1::DebugState state;
    return Call("SetGuestDebug",
                [&](auto* c) { return debug_->SetGuestDebug(c, request, &state); });
  }
  absl::Status RemoveBreakpoint() {
    pvm::v1::RemoveBreakpointRequest request;
    request.set_name(vm_);
    request.set_id(breakpoint_id_);
    pvm::v1::RemoveBreakpointResponse response;
    return Call("RemoveBreakpoint",
                [&](auto* c) { return debug_->RemoveBreakpoint(c, request, &response); });
  }
  absl::Status Continue() {
    pvm::v1::DebugRef ref;
    ref.set_name(vm_);
    pvm::v1::DebugState state;
    return Call("Continue", [&](auto* c) { return debug_->Continue(c, ref, &state); });
  }
  absl::StatusOr<pvm::v1::DebugState> State() {
    pvm::v1::DebugRef ref;
    ref.set_name(vm_);
    pvm::v1::DebugState state;
    if (absl::Status s =
            Call("GetDebugState", [&](auto* c) { return debug_->GetDebugState(c, ref, &state); });
        !s.ok()) {
      return s;
    }
    return state;
  }
  absl::StatusOr<pvm::v1::StepResponse> Step(uint32_t count) {
    pvm::v1::StepRequest request;
    request.set_name(vm_);
    request.set_vcpu(0);
    request.set_count(count);
    pvm::v1::StepResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    if (absl::Status s = FromGrpc("Step", debug_->Step(&context, request, &response)); !s.ok()) {
      return s;
    }
    return response;
  }

  // Deletes the VM, which ends every follower's stream, and collects the tallies.
  absl::StatusOr<std::vector<const Tally*>> Finish() {
    if (absl::Status s = Delete(); !s.ok()) {
      return s;
    }
    std::vector<const Tally*> tallies;
    const auto deadline = Clock::now() + kPatience;
    for (auto& s : subscribers_) {
      s->Finish(deadline);
      if (!s->status().ok()) {
        return FromGrpc("StreamEvents", s->status());
      }
      tallies.push_back(&s->tally());
    }
    return tallies;
  }

  Window& window() { return window_; }

 private:
  absl::Status Delete() {
    if (!created_) {
      return absl::OkStatus();
    }
    created_ = false;
    pvm::v1::VmRef ref;
    ref.set_name(vm_);
    pvm::v1::DeleteVmResponse response;
    return Call("DeleteVm", [&](auto* c) { return vms_->DeleteVm(c, ref, &response); });
  }

  const PvmdProcess& pvmd_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pvm::v1::VmService::Stub> vms_;
  std::unique_ptr<pvm::v1::DebugService::Stub> debug_;
  const std::string vm_;
  const int subscriber_count_;
  bool created_ = false;
  uint32_t breakpoint_id_ = 0;
  Window window_;
  Countdown first_event_;
  std::vector<std::unique_ptr<StreamSubscriber>> subscribers_;
};

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

absl::StatusOr<std::unique_ptr<PvmdProcess>> PvmdProcess::Start(const std::string& binary,
                                                                const std::string& guest_dir) {
  std::string dir = "/tmp/pvm-event-path-bench-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) {
    return absl::InternalError("mkdtemp failed");
  }
  const std::string socket = dir + "/pvmd.sock";
  const std::string log = dir + "/pvmd.log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<std::string> args = {binary, "--socket", socket, "--guest-dir", guest_dir};
  std::vector<char*> argv;
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int err = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) {
    return absl::InternalError(absl::StrCat("cannot start ", binary, ": ", strerror(err)));
  }
  auto process = std::make_unique<PvmdProcess>(pid, dir);
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!std::filesystem::exists(socket)) {
    int wstatus = 0;
    if (::waitpid(pid, &wstatus, WNOHANG) == pid) {
      process->pid_ = 0;
      return absl::InternalError(absl::StrCat("pvmd exited at start; see ", log));
    }
    if (Clock::now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("pvmd never made ", socket, "; see ", log));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (!process->NewChannel()->WaitForConnected(std::chrono::system_clock::now() + kRpcDeadline)) {
    return absl::DeadlineExceededError(absl::StrCat("pvmd does not answer on ", socket));
  }
  return process;
}

PvmdProcess::~PvmdProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int wstatus = 0;
    ::waitpid(pid_, &wstatus, 0);
    if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
      std::fprintf(stderr, "pvmd did not exit cleanly; its log: %s\n", log_path().c_str());
      return;  // keep the log
    }
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::shared_ptr<grpc::Channel> PvmdProcess::NewChannel() const {
  grpc::ChannelArguments args;
  // Without it, channels to one target share a connection; separate clients do not.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(target(), grpc::InsecureChannelCredentials(), args);
}

absl::StatusOr<Sample> GrpcTrace(const PvmdProcess& pvmd, const std::string& vm_name,
                                 const GrpcRunOptions& options) {
  Session session(pvmd, vm_name, options.subscribers);
  if (absl::Status s = session.StopAt("kstep_inc"); !s.ok()) {
    return s;
  }
  if (absl::Status s = session.SetMode(pvm::v1::STOP_MODE_TRACE); !s.ok()) {
    return s;
  }
  if (absl::Status s = session.Continue(); !s.ok()) {
    return s;
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(options.warmup_s));
  const std::vector<int> pids = {getpid(), pvmd.pid()};
  const CpuSnapshot cpu_before = ReadCpu(pids);
  absl::StatusOr<pvm::v1::DebugState> before = session.State();
  const auto t0 = Clock::now();
  session.window().Open();
  std::this_thread::sleep_for(std::chrono::duration<double>(options.seconds));
  absl::StatusOr<pvm::v1::DebugState> after = session.State();
  const auto t1 = Clock::now();
  session.window().Close();
  const CpuSnapshot cpu_after = ReadCpu(pids);
  if (!before.ok() || !after.ok()) {
    return before.ok() ? after.status() : before.status();
  }
  if (after->vcpus_size() == 0 || after->vcpus(0).stopped()) {
    return absl::InternalError("vCPU 0 stopped in trace mode");
  }
  absl::StatusOr<std::vector<const Tally*>> tallies = session.Finish();
  if (!tallies.ok()) {
    return tallies.status();
  }
  const double events = static_cast<double>(after->last_event() - before->last_event());
  Sample sample = Summarize(events / Seconds(t1 - t0), *tallies);
  AddCpu(cpu_before, cpu_after, Seconds(t1 - t0), &sample);
  return sample;
}

absl::StatusOr<Sample> GrpcStep(const PvmdProcess& pvmd, const std::string& vm_name,
                                const GrpcRunOptions& options) {
  Session session(pvmd, vm_name, options.subscribers);
  if (absl::Status s = session.StopAt("kstep_i0"); !s.ok()) {
    return s;
  }
  if (absl::Status s = session.RemoveBreakpoint(); !s.ok()) {
    return s;
  }
  const std::vector<int> pids = {getpid(), pvmd.pid()};
  const CpuSnapshot cpu_before = ReadCpu(pids);
  session.window().Open();
  const auto t0 = Clock::now();
  absl::StatusOr<pvm::v1::StepResponse> step = session.Step(options.steps);
  const auto t1 = Clock::now();
  session.window().Close();
  const CpuSnapshot cpu_after = ReadCpu(pids);
  if (!step.ok()) {
    return step.status();
  }
  if (step->steps() != options.steps) {
    return absl::InternalError(absl::StrCat("Step did ", step->steps(), " of ", options.steps,
                                            " steps: ", step->reason()));
  }
  absl::StatusOr<std::vector<const Tally*>> tallies = session.Finish();
  if (!tallies.ok()) {
    return tallies.status();
  }
  Sample sample = Summarize(step->steps() / Seconds(t1 - t0), *tallies);
  AddCpu(cpu_before, cpu_after, Seconds(t1 - t0), &sample);
  return sample;
}

}  // namespace pvm::bench
