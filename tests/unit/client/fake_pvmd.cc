#include "tests/unit/client/fake_pvmd.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace pvm::testing {
namespace {

grpc::Status NoSuchVm(const std::string& name) {
  return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("no VM named '", name, "'"));
}

std::string StateWord(v1::VmState state) {
  std::string word = v1::VmState_Name(state).substr(sizeof("VM_STATE_") - 1);
  std::transform(word.begin(), word.end(), word.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return word;
}

}  // namespace

class FakePvmd::HostServiceImpl final : public v1::HostService::Service {
 public:
  explicit HostServiceImpl(FakePvmd& fake) : fake_(fake) {}

  grpc::Status GetHostInfo(grpc::ServerContext*, const v1::GetHostInfoRequest*,
                           v1::HostInfo* response) override {
    std::unique_lock lock(fake_.mu_);
    if (fake_.block_host_info_) {
      ++fake_.blocked_host_info_calls_;
      fake_.changed_.notify_all();
      fake_.changed_.wait(lock, [this] { return fake_.shutting_down_; });
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down");
    }
    *response = fake_.host_info_;
    return grpc::Status::OK;
  }

 private:
  FakePvmd& fake_;
};

class FakePvmd::VmServiceImpl final : public v1::VmService::Service {
 public:
  explicit VmServiceImpl(FakePvmd& fake) : fake_(fake) {}

  grpc::Status CreateVm(grpc::ServerContext*, const v1::CreateVmRequest* request,
                        v1::Vm* response) override {
    std::lock_guard lock(fake_.mu_);
    fake_.last_create_request_ = *request;
    if (request->name().empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "a VM needs a name");
    }
    if (fake_.vms_.contains(request->name())) {
      return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                          absl::StrCat("a VM named '", request->name(), "' already exists"));
    }
    auto record = std::make_shared<VmRecord>();
    v1::Vm& vm = record->vm;
    vm.set_name(request->name());
    vm.set_state(request->start() ? v1::VM_STATE_RUNNING : v1::VM_STATE_CREATED);
    vm.set_vcpus(request->has_vcpus() ? request->vcpus() : 1);
    vm.set_memory_mib(request->has_memory_mib() ? request->memory_mib() : 64);
    vm.set_image(request->image());
    vm.set_entry_point(0x100000);
    vm.set_created_unix_ms(kFakeCreatedUnixMs);
    for (uint32_t id = 0; id < vm.vcpus(); ++id) {
      v1::VcpuInfo* vcpu = vm.add_vcpu_info();
      vcpu->set_id(id);
      vcpu->set_state(StateWord(vm.state()));
      vcpu->set_rip(vm.entry_point());
    }
    fake_.vms_[vm.name()] = record;
    *response = vm;
    return grpc::Status::OK;
  }

  grpc::Status GetVm(grpc::ServerContext*, const v1::GetVmRequest* request,
                     v1::Vm* response) override {
    std::lock_guard lock(fake_.mu_);
    std::shared_ptr<VmRecord> record = fake_.FindRecordLocked(request->name());
    if (record == nullptr) return NoSuchVm(request->name());
    *response = record->vm;
    return grpc::Status::OK;
  }

  grpc::Status ListVms(grpc::ServerContext*, const v1::ListVmsRequest*,
                       v1::ListVmsResponse* response) override {
    std::lock_guard lock(fake_.mu_);
    for (const auto& [name, record] : fake_.vms_) *response->add_vms() = record->vm;
    return grpc::Status::OK;
  }

  grpc::Status StartVm(grpc::ServerContext*, const v1::VmRef* request, v1::Vm* response) override {
    return Transition(request->name(), v1::VM_STATE_CREATED, v1::VM_STATE_RUNNING, response);
  }

  grpc::Status PauseVm(grpc::ServerContext*, const v1::VmRef* request, v1::Vm* response) override {
    return Transition(request->name(), v1::VM_STATE_RUNNING, v1::VM_STATE_PAUSED, response);
  }

  grpc::Status ResumeVm(grpc::ServerContext*, const v1::VmRef* request, v1::Vm* response) override {
    return Transition(request->name(), v1::VM_STATE_PAUSED, v1::VM_STATE_RUNNING, response);
  }

  grpc::Status DeleteVm(grpc::ServerContext*, const v1::VmRef* request,
                        v1::DeleteVmResponse*) override {
    std::lock_guard lock(fake_.mu_);
    auto it = fake_.vms_.find(request->name());
    if (it == fake_.vms_.end()) return NoSuchVm(request->name());
    it->second->deleted = true;
    fake_.vms_.erase(it);
    fake_.changed_.notify_all();
    return grpc::Status::OK;
  }

  // What is buffered, then (follow) whatever is appended until the VM is deleted.
  grpc::Status StreamConsole(grpc::ServerContext*, const v1::StreamConsoleRequest* request,
                             grpc::ServerWriter<v1::ConsoleChunk>* writer) override {
    std::unique_lock lock(fake_.mu_);
    std::shared_ptr<VmRecord> record = fake_.FindRecordLocked(request->name());
    if (record == nullptr) return NoSuchVm(request->name());
    uint64_t cursor = 0;
    while (true) {
      if (request->follow()) {
        fake_.changed_.wait(lock, [&] {
          return cursor < record->console_start + record->console.size() || record->deleted ||
                 fake_.shutting_down_;
        });
      }
      const uint64_t end = record->console_start + record->console.size();
      if (cursor == end) return grpc::Status::OK;  // deleted, shutting down, or nothing
      const uint64_t start = std::max(cursor, record->console_start);
      v1::ConsoleChunk chunk;
      chunk.set_offset(start);
      chunk.set_dropped(start - cursor);
      chunk.set_data(record->console.substr(start - record->console_start));
      cursor = end;
      lock.unlock();
      if (!writer->Write(chunk)) return grpc::Status(grpc::StatusCode::CANCELLED, "client gone");
      lock.lock();
      if (!request->follow()) return grpc::Status::OK;
    }
  }

 private:
  grpc::Status Transition(const std::string& name, v1::VmState from, v1::VmState to,
                          v1::Vm* response) {
    std::lock_guard lock(fake_.mu_);
    std::shared_ptr<VmRecord> record = fake_.FindRecordLocked(name);
    if (record == nullptr) return NoSuchVm(name);
    if (record->vm.state() != from) {
      return grpc::Status(
          grpc::StatusCode::FAILED_PRECONDITION,
          absl::StrCat(name, " is ", StateWord(record->vm.state()), ", not ", StateWord(from)));
    }
    record->vm.set_state(to);
    *response = record->vm;
    return grpc::Status::OK;
  }

  FakePvmd& fake_;
};

FakePvmd::FakePvmd()
    : host_service_(std::make_unique<HostServiceImpl>(*this)),
      vm_service_(std::make_unique<VmServiceImpl>(*this)) {
  std::string pattern = (std::filesystem::temp_directory_path() / "pvmctl-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) return;
  directory_ = pattern;
  socket_path_ = directory_ + "/pvmd.sock";
  grpc::ServerBuilder builder;
  builder.AddListeningPort(target(), grpc::InsecureServerCredentials());
  builder.RegisterService(host_service_.get());
  builder.RegisterService(vm_service_.get());
  server_ = builder.BuildAndStart();
}

FakePvmd::~FakePvmd() {
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

std::shared_ptr<FakePvmd::VmRecord> FakePvmd::FindRecordLocked(const std::string& name) {
  auto it = vms_.find(name);
  return it == vms_.end() ? nullptr : it->second;
}

void FakePvmd::SetHostInfo(v1::HostInfo info) {
  std::lock_guard lock(mu_);
  host_info_ = std::move(info);
}

void FakePvmd::AddVm(v1::Vm vm) {
  std::lock_guard lock(mu_);
  auto record = std::make_shared<VmRecord>();
  record->vm = std::move(vm);
  vms_[record->vm.name()] = record;
}

std::optional<v1::Vm> FakePvmd::FindVm(const std::string& name) {
  std::lock_guard lock(mu_);
  std::shared_ptr<VmRecord> record = FindRecordLocked(name);
  if (record == nullptr) return std::nullopt;
  return record->vm;
}

void FakePvmd::AppendConsole(const std::string& name, absl::string_view bytes) {
  std::lock_guard lock(mu_);
  std::shared_ptr<VmRecord> record = FindRecordLocked(name);
  if (record == nullptr) return;
  record->console.append(bytes.data(), bytes.size());
  record->vm.set_console_bytes(record->console_start + record->console.size());
  changed_.notify_all();
}

void FakePvmd::DropConsoleBefore(const std::string& name, uint64_t offset) {
  std::lock_guard lock(mu_);
  std::shared_ptr<VmRecord> record = FindRecordLocked(name);
  if (record == nullptr || offset <= record->console_start) return;
  const uint64_t cut = std::min<uint64_t>(offset - record->console_start, record->console.size());
  record->console.erase(0, cut);
  record->console_start += cut;
}

std::optional<v1::CreateVmRequest> FakePvmd::last_create_request() {
  std::lock_guard lock(mu_);
  return last_create_request_;
}

void FakePvmd::BlockHostInfo() {
  std::lock_guard lock(mu_);
  block_host_info_ = true;
}

bool FakePvmd::WaitForBlockedHostInfo(absl::Duration timeout) {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                           [this] { return blocked_host_info_calls_ > 0; });
}

WatchedOutput::WatchedOutput() : std::ostream(nullptr) { rdbuf(&buffer_); }

std::string WatchedOutput::text() { return buffer_.text(); }

bool WatchedOutput::WaitFor(absl::string_view needle, absl::Duration timeout) {
  return buffer_.WaitFor(needle, timeout);
}

std::string WatchedOutput::Buffer::text() {
  std::lock_guard lock(mu_);
  return text_;
}

bool WatchedOutput::Buffer::WaitFor(absl::string_view needle, absl::Duration timeout) {
  std::unique_lock lock(mu_);
  return grown_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                         [&] { return absl::StrContains(text_, needle); });
}

std::streamsize WatchedOutput::Buffer::xsputn(const char* data, std::streamsize size) {
  std::lock_guard lock(mu_);
  text_.append(data, static_cast<size_t>(size));
  grown_.notify_all();
  return size;
}

WatchedOutput::Buffer::int_type WatchedOutput::Buffer::overflow(int_type c) {
  if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
  std::lock_guard lock(mu_);
  text_.push_back(traits_type::to_char_type(c));
  grown_.notify_all();
  return c;
}

}  // namespace pvm::testing
