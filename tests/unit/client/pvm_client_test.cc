// The client library against the in-process fake pvmd: results, error translation,
// deadlines and cancellation.
#include "client/pvm_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <stop_token>
#include <thread>

#include "tests/unit/client/fake_pvmd.h"
#include "tests/unit/client/sample_messages.h"

namespace pvm::client {
namespace {

using ::pvm::testing::FakePvmd;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr absl::Duration kWaitLimit = absl::Seconds(30);  // only reached when broken

class PvmClientTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(fake_.ok()); }

  PvmClient Client(absl::Duration rpc_timeout = absl::Seconds(10), std::stop_token stop = {}) {
    absl::StatusOr<PvmClient> client =
        PvmClient::Connect({.target = fake_.target(), .rpc_timeout = rpc_timeout}, stop);
    EXPECT_TRUE(client.ok()) << client.status();
    return *std::move(client);
  }

  FakePvmd fake_;
};

TEST_F(PvmClientTest, GetHostInfo) {
  fake_.SetHostInfo(testing::SampleHostInfo());
  absl::StatusOr<v1::HostInfo> info = Client().GetHostInfo();
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->SerializeAsString(), testing::SampleHostInfo().SerializeAsString());
}

TEST_F(PvmClientTest, VmLifecycle) {
  PvmClient client = Client();
  v1::CreateVmRequest request;
  request.set_name("vm-7");
  request.set_vcpus(2);
  request.set_image("builtin:hello");
  absl::StatusOr<v1::Vm> created = client.CreateVm(request);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->state(), v1::VM_STATE_CREATED);
  EXPECT_EQ(created->vcpus(), 2u);

  EXPECT_EQ(client.StartVm("vm-7")->state(), v1::VM_STATE_RUNNING);
  EXPECT_EQ(client.PauseVm("vm-7")->state(), v1::VM_STATE_PAUSED);
  EXPECT_EQ(client.ResumeVm("vm-7")->state(), v1::VM_STATE_RUNNING);
  EXPECT_EQ(client.GetVm("vm-7")->state(), v1::VM_STATE_RUNNING);
  absl::StatusOr<v1::ListVmsResponse> list = client.ListVms();
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->vms_size(), 1);
  EXPECT_EQ(list->vms(0).name(), "vm-7");

  EXPECT_TRUE(client.DeleteVm("vm-7").ok());
  EXPECT_EQ(client.ListVms()->vms_size(), 0);
}

TEST_F(PvmClientTest, ServerErrorsKeepCodeAndMessage) {
  PvmClient client = Client();
  const absl::Status missing = client.GetVm("vm-9").status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.message(), "no VM named 'vm-9'");
  EXPECT_EQ(client.DeleteVm("vm-9").code(), absl::StatusCode::kNotFound);

  v1::CreateVmRequest request;
  request.set_name("vm-7");
  ASSERT_TRUE(client.CreateVm(request).ok());
  const absl::Status duplicate = client.CreateVm(request).status();
  EXPECT_EQ(duplicate.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(duplicate.message(), "a VM named 'vm-7' already exists");

  const absl::Status not_paused = client.ResumeVm("vm-7").status();
  EXPECT_EQ(not_paused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(not_paused.message(), "vm-7 is created, not paused");
}

TEST_F(PvmClientTest, UnaryCallsEndAtTheDeadlineWhenTheDaemonHangs) {
  fake_.BlockHostInfo();
  const absl::Time start = absl::Now();
  const absl::Status status = Client(absl::Milliseconds(200)).GetHostInfo().status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST_F(PvmClientTest, StopCancelsACallInFlight) {
  fake_.BlockHostInfo();
  std::stop_source stop;
  PvmClient client = Client(absl::Seconds(60), stop.get_token());
  absl::Status status;
  std::thread call([&] { status = client.GetHostInfo().status(); });
  ASSERT_TRUE(fake_.WaitForBlockedHostInfo(kWaitLimit));
  stop.request_stop();
  call.join();
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
}

TEST_F(PvmClientTest, CallsAfterStopAreCancelledWithoutReachingTheServer) {
  std::stop_source stop;
  stop.request_stop();
  EXPECT_EQ(Client(absl::Seconds(10), stop.get_token()).ListVms().status().code(),
            absl::StatusCode::kCancelled);
}

TEST_F(PvmClientTest, ConsoleSnapshotComesInOrderAndEnds) {
  PvmClient client = Client();
  v1::CreateVmRequest request;
  request.set_name("vm-7");
  ASSERT_TRUE(client.CreateVm(request).ok());
  fake_.AppendConsole("vm-7", "hello\n");
  std::string console;
  std::vector<uint64_t> offsets;
  const absl::Status status =
      client.StreamConsole("vm-7", /*follow=*/false, [&](const v1::ConsoleChunk& chunk) {
        console += chunk.data();
        offsets.push_back(chunk.offset());
        return absl::OkStatus();
      });
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(console, "hello\n");
  EXPECT_THAT(offsets, ElementsAre(0));
}

TEST_F(PvmClientTest, ConsoleOfAMissingVmIsNotFound) {
  const absl::Status status = Client().StreamConsole(
      "vm-9", false, [](const v1::ConsoleChunk&) { return absl::OkStatus(); });
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "no VM named 'vm-9'");
}

TEST_F(PvmClientTest, AFailingChunkHandlerEndsAFollowWithItsError) {
  PvmClient client = Client();
  v1::CreateVmRequest request;
  request.set_name("vm-7");
  ASSERT_TRUE(client.CreateVm(request).ok());
  fake_.AppendConsole("vm-7", "x");
  const absl::Status status = client.StreamConsole(
      "vm-7", /*follow=*/true,
      [](const v1::ConsoleChunk&) { return absl::DataLossError("stdout is gone"); });
  EXPECT_EQ(status, absl::DataLossError("stdout is gone"));
}

TEST(PvmClient, NoDaemonIsUnavailableAtOnce) {
  const std::string socket =
      (std::filesystem::temp_directory_path() / "pvmctl-test-no-such-dir" / "pvmd.sock").string();
  absl::StatusOr<PvmClient> client = PvmClient::Connect({.target = "unix:" + socket});
  ASSERT_TRUE(client.ok()) << client.status();  // channels connect lazily
  const absl::Time start = absl::Now();
  const absl::Status status = client->ListVms().status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(status.message(), HasSubstr(socket));
  // Fail-fast, not the 10 s deadline.
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

// A socket that something listens on but never answers: connect() succeeds (the
// kernel queues it), gRPC's handshake never completes.
class SilentSocket {
 public:
  explicit SilentSocket(const std::string& path) : fd_(socket(AF_UNIX, SOCK_STREAM, 0)) {
    sockaddr_un address = {.sun_family = AF_UNIX};
    path.copy(address.sun_path, sizeof(address.sun_path) - 1);
    listening_ = fd_ >= 0 &&
                 bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0 &&
                 listen(fd_, 8) == 0;
  }
  ~SilentSocket() {
    if (fd_ >= 0) close(fd_);
  }
  bool listening() const { return listening_; }

 private:
  int fd_;
  bool listening_ = false;
};

TEST(PvmClient, ADaemonThatNeverAnswersIsUnavailableAtTheDeadline) {
  std::string directory = (std::filesystem::temp_directory_path() / "pvmctl-test-XXXXXX").string();
  ASSERT_NE(mkdtemp(directory.data()), nullptr);
  const std::string socket = directory + "/pvmd.sock";
  {
    SilentSocket silent(socket);
    ASSERT_TRUE(silent.listening());
    absl::StatusOr<PvmClient> client =
        PvmClient::Connect({.target = "unix:" + socket, .rpc_timeout = absl::Milliseconds(300)});
    ASSERT_TRUE(client.ok()) << client.status();
    const absl::Status status = client->GetHostInfo().status();
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
    EXPECT_THAT(status.message(), HasSubstr("no connection within 300ms"));
  }
  std::filesystem::remove_all(directory);
}

TEST(PvmClient, OnlyUnixSocketsAndHostPort) {
  for (const char* target :
       {"", "unix:", "dns:///pvmd:50051", "localhost", "localhost:", ":50051"}) {
    EXPECT_EQ(PvmClient::Connect({.target = target}).status().code(),
              absl::StatusCode::kInvalidArgument)
        << target;
  }
}

}  // namespace
}  // namespace pvm::client
