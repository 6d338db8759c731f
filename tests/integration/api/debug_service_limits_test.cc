// limits.event_ring_size and limits.subscribers_per_vm through the real DebugService
// on in-process gRPC, with VMs on the real /dev/kvm.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "daemon/api/debug_service.h"
#include "daemon/debug/vm_debugger.h"
#include "pvm/v1/debug.grpc.pb.h"
#include "tests/integration/guest_test.h"

namespace pvm::testing {
namespace {

constexpr auto kPatience = std::chrono::seconds(10);

class DebugServiceLimitsTest : public GuestTest {
 protected:
  void StartServer(debug::DebugConfig config, uint32_t subscribers_per_vm) {
    service_ = std::make_unique<api::DebugServiceImpl>(*registry_, config, subscribers_per_vm);
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = pvm::v1::DebugService::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }

  void TearDown() override {
    if (server_ != nullptr) {
      registry_->DeleteAll();  // every follower's log closes: the streams end
      server_->Shutdown();
    }
  }

  // A created VM with debugging switched on through the service.
  std::shared_ptr<vmm::Vm> DebuggedVm(const std::string& name) {
    std::shared_ptr<vmm::Vm> vm = CreateGuest(name, "hello");
    if (vm == nullptr) return nullptr;
    grpc::ClientContext context;
    pvm::v1::SetGuestDebugRequest request;
    request.set_name(name);
    request.set_enabled(true);
    pvm::v1::DebugState state;
    const grpc::Status status = stub_->SetGuestDebug(&context, request, &state);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return vm;
  }

  // One StreamEvents call with its own context.
  struct Stream {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<pvm::v1::EventBatch>> reader;
  };
  std::unique_ptr<Stream> Open(const std::string& name, bool follow) {
    auto stream = std::make_unique<Stream>();
    stream->context.set_deadline(std::chrono::system_clock::now() + kPatience);
    pvm::v1::StreamEventsRequest request;
    request.set_name(name);
    request.set_follow(follow);
    stream->reader = stub_->StreamEvents(&stream->context, request);
    // Returns once the server counted the stream (it sends its metadata right after),
    // or with the refusal.
    stream->reader->WaitForInitialMetadata();
    return stream;
  }
  static grpc::Status Finish(Stream& stream) {
    pvm::v1::EventBatch batch;
    while (stream.reader->Read(&batch)) {
    }
    return stream.reader->Finish();
  }

  std::unique_ptr<api::DebugServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<pvm::v1::DebugService::Stub> stub_;
};

TEST_F(DebugServiceLimitsTest, TheEventRingSizeReachesEachVmsEventLog) {
  debug::DebugConfig config;
  config.event_ring_size = 64;
  StartServer(config, 4);
  std::shared_ptr<vmm::Vm> vm = DebuggedVm("ring");
  ASSERT_NE(vm, nullptr);
  // The service attached the debugger with its config; a later DebuggerFor gets it.
  EXPECT_EQ(debug::DebuggerFor(*vm, {}).events()->capacity(), 64u);

  std::shared_ptr<vmm::Vm> odd = CreateGuest("odd", "hello");
  ASSERT_NE(odd, nullptr);
  config.event_ring_size = 100;
  EXPECT_EQ(debug::DebuggerFor(*odd, config).events()->capacity(), 128u);  // a power of two
  std::shared_ptr<vmm::Vm> plain = CreateGuest("plain", "hello");
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(debug::DebuggerFor(*plain, {}).events()->capacity(), 4096u);
}

TEST_F(DebugServiceLimitsTest, StreamsBeyondTheLimitAreRefusedAndEndedOnesGiveTheirPlaceBack) {
  StartServer({}, 2);
  ASSERT_NE(DebuggedVm("subs"), nullptr);
  ASSERT_NE(DebuggedVm("other"), nullptr);
  const api::SubscriberLimit& limit = service_->subscribers();

  std::unique_ptr<Stream> first = Open("subs", /*follow=*/true);
  std::unique_ptr<Stream> second = Open("subs", /*follow=*/true);
  EXPECT_EQ(limit.Active("subs"), 2u);

  std::unique_ptr<Stream> third = Open("subs", /*follow=*/true);
  const grpc::Status refused = Finish(*third);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(refused.error_message(),
            "VM 'subs' already has 2 event stream(s), the most pvmd allows per VM "
            "(limits.subscribers_per_vm / --subscribers-per-vm): end one first");
  EXPECT_EQ(limit.Active("subs"), 2u);  // a refused stream holds nothing

  // The limit is per VM.
  std::unique_ptr<Stream> elsewhere = Open("other", /*follow=*/true);
  EXPECT_EQ(limit.Active("other"), 1u);

  // A client that goes away: the server notices at its next cancellation poll.
  first->context.TryCancel();
  EXPECT_EQ(Finish(*first).error_code(), grpc::StatusCode::CANCELLED);
  ASSERT_TRUE(limit.WaitForActive("subs", 1, std::chrono::steady_clock::now() + kPatience));
  std::unique_ptr<Stream> again = Open("subs", /*follow=*/true);
  EXPECT_EQ(limit.Active("subs"), 2u);

  // Streams that end because the VM is gone: released before the client sees the end.
  ASSERT_TRUE(registry_->Delete("subs").ok());
  EXPECT_TRUE(Finish(*second).ok());
  EXPECT_TRUE(Finish(*again).ok());
  EXPECT_EQ(limit.Active("subs"), 0u);
  EXPECT_EQ(limit.Active("other"), 1u);
}

TEST_F(DebugServiceLimitsTest, StreamsThatEndByThemselvesGiveTheirPlaceBack) {
  StartServer({}, 1);
  ASSERT_NE(DebuggedVm("once"), nullptr);
  // Without follow a stream ends once it sent what the log holds: one place is enough
  // for any number of them one after the other.
  for (int i = 0; i < 3; ++i) {
    std::unique_ptr<Stream> stream = Open("once", /*follow=*/false);
    const grpc::Status status = Finish(*stream);
    EXPECT_TRUE(status.ok()) << i << ": " << status.error_message();
    EXPECT_EQ(service_->subscribers().Active("once"), 0u);
  }
}

TEST(SubscriberLimitTest, CountsPerVmAndReleasesOnDestruction) {
  api::SubscriberLimit limit(1);
  {
    absl::StatusOr<api::SubscriberLimit::Slot> a = limit.Acquire("a");
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(limit.Acquire("a").status().code(), absl::StatusCode::kResourceExhausted);
    EXPECT_TRUE(limit.Acquire("b").ok());  // released again at once
    EXPECT_EQ(limit.Active("a"), 1u);
    EXPECT_EQ(limit.Active("b"), 0u);
    absl::StatusOr<api::SubscriberLimit::Slot> moved = std::move(a);
    EXPECT_EQ(limit.Active("a"), 1u);  // a moved slot is still one
  }
  EXPECT_EQ(limit.Active("a"), 0u);
  EXPECT_TRUE(limit.Acquire("a").ok());
}

}  // namespace
}  // namespace pvm::testing
