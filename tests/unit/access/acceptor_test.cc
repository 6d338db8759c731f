// The whole unix-socket path in one process: pvmd's FdAcceptor on a socket it
// listens on, an Authorizer, and services guarded the way pvmd's are. Connections
// come from children running as other users, so each call is decided on the
// credentials of the connection it came on, also when gRPC reuses an fd number
// for the next connection ("fd:N" is all a handler sees of the peer).
#include <gmock/gmock.h>
#include <grpcpp/create_channel_posix.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "daemon/access/authorizer.h"
#include "daemon/access/peer_credentials.h"
#include "daemon/fd_acceptor.h"
#include "daemon/unix_socket.h"
#include "pvm/v1/host.grpc.pb.h"
#include "pvm/v1/vm.grpc.pb.h"
#include "tests/unit/access/connect_as.h"

namespace pvm::access {
namespace {

using ::testing::HasSubstr;

constexpr gid_t kSocketGroup = 50000;  // may connect
constexpr gid_t kFullGroup = 50001;
constexpr gid_t kReadGroup = 50002;
constexpr uid_t kNobody = 65534;

// Reads answer with the peer string the handler saw; DeleteVm counts the calls that
// got past the guard, which a refused call must never be.
class FakeHostService final : public pvm::v1::HostService::Service {
 public:
  grpc::Status GetHostInfo(grpc::ServerContext* context, const pvm::v1::GetHostInfoRequest*,
                           pvm::v1::HostInfo* response) override {
    if (grpc::Status denied = access_.Check(context, __func__); !denied.ok()) return denied;
    response->set_daemon_version(context->peer());
    return grpc::Status::OK;
  }
  CallGuard access_{pvm::v1::HostService::service_full_name()};
};

class FakeVmService final : public pvm::v1::VmService::Service {
 public:
  grpc::Status DeleteVm(grpc::ServerContext* context, const pvm::v1::VmRef*,
                        pvm::v1::DeleteVmResponse*) override {
    if (grpc::Status denied = access_.Check(context, __func__); !denied.ok()) return denied;
    ++deleted;
    return grpc::Status::OK;
  }
  CallGuard access_{pvm::v1::VmService::service_full_name()};
  std::atomic<int> deleted = 0;
};

class AcceptorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PVM_REQUIRE_ROOT();
    char pattern[] = "/tmp/pvm-acceptor-test-XXXXXX";
    directory_ = mkdtemp(pattern);
    chmod(directory_.c_str(), 0755);
    path_ = directory_ + "/pvmd.sock";
    absl::StatusOr<vmm::UniqueFd> listening = ListenOnUnixSocket(path_, 0660);
    ASSERT_TRUE(listening.ok()) << listening.status();
    listen_fd_ = *std::move(listening);
    ASSERT_TRUE(SetSocketGroup(path_, kSocketGroup).ok());

    host_.access_.Enforce(&authorizer_);
    vm_.access_.Enforce(&authorizer_);
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.RegisterService(&host_);
    builder.RegisterService(&vm_);
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> filters;
    filters.push_back(UnguardedServiceFilter(authorizer_));
    builder.experimental().SetInterceptorCreators(std::move(filters));
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    acceptor_.emplace(listen_fd_.get(), *server_, peers_);
  }

  void TearDown() override {
    acceptor_.reset();
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
    if (!directory_.empty()) std::filesystem::remove_all(directory_);
  }

  // A channel over a connection a child running as `who` made, and the fd the
  // server accepted it on (found by the child's pid in SO_PEERCRED once the first
  // call went through the acceptor).
  struct Client {
    std::shared_ptr<grpc::Channel> channel;
    pid_t pid = 0;
  };
  Client ClientAs(const testing::Identity& who) {
    absl::StatusOr<testing::Connection> connection = testing::ConnectAs(path_, who);
    EXPECT_TRUE(connection.ok()) << connection.status();
    if (!connection.ok()) return {};
    // gRPC takes the fd it is given; the test keeps (and closes) its own.
    return {.channel = grpc::CreateInsecureChannelFromFd("pvmd", dup(connection->fd.get())),
            .pid = connection->pid};
  }
  static std::optional<int> ServerFdOf(pid_t client_pid) {
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
      int fd = -1;
      if (!absl::SimpleAtoi(entry.path().filename().string(), &fd)) continue;
      absl::StatusOr<PeerCredentials> peer = ReadPeerCredentials(fd);
      if (peer.ok() && peer->pid == client_pid) return fd;
    }
    return std::nullopt;
  }

  struct Answer {
    grpc::Status status;
    std::string peer;  // what the server's handler saw
  };
  static Answer GetHostInfo(const std::shared_ptr<grpc::Channel>& channel) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    pvm::v1::HostInfo info;
    Answer answer;
    answer.status = pvm::v1::HostService::NewStub(channel)->GetHostInfo(&context, {}, &info);
    answer.peer = info.daemon_version();
    return answer;
  }
  static grpc::Status DeleteVm(const std::shared_ptr<grpc::Channel>& channel) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    pvm::v1::VmRef ref;
    ref.set_name("vm-1");
    pvm::v1::DeleteVmResponse response;
    return pvm::v1::VmService::NewStub(channel)->DeleteVm(&context, ref, &response);
  }
  static grpc::Status HealthCheck(const std::shared_ptr<grpc::Channel>& channel) {
    grpc::GenericStub stub(channel);
    grpc::CompletionQueue queue;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    // An empty HealthCheckRequest (the server as a whole): a message of zero bytes,
    // not a ByteBuffer without any, which gRPC would send as no message at all.
    grpc::Slice empty("", 0);
    grpc::ByteBuffer request(&empty, 1);
    grpc::ByteBuffer response;
    grpc::Status status;
    std::unique_ptr<grpc::GenericClientAsyncResponseReader> call =
        stub.PrepareUnaryCall(&context, "/grpc.health.v1.Health/Check", request, &queue);
    call->StartCall();
    call->Finish(&response, &status, nullptr);
    void* tag = nullptr;
    bool ok = false;
    queue.Next(&tag, &ok);
    return status;
  }

  // Until the server has closed `fd` (or it is another file already), so that the
  // next accept may get the same number again.
  static void WaitUntilServerClosed(int fd, ino_t inode) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
      struct stat st {};
      if (fstat(fd, &st) != 0 || st.st_ino != inode) return;
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "fd " << fd << " still open";
      std::this_thread::yield();
    }
  }

  const AccessPolicy policy_{.groups = {{.name = "full", .gid = kFullGroup}},
                             .read_only_groups = {{.name = "read", .gid = kReadGroup}}};
  PeerRegistry peers_;
  Authorizer authorizer_{policy_, peers_, std::nullopt};
  FakeHostService host_;
  FakeVmService vm_;
  std::string directory_;
  std::string path_;
  vmm::UniqueFd listen_fd_;
  std::unique_ptr<grpc::Server> server_;
  std::optional<FdAcceptor> acceptor_;
};

TEST_F(AcceptorTest, HandlersSeeFdPeersAndEachCallIsDecidedByItsConnection) {
  const testing::Identity root{.uid = 0, .gid = 0, .groups = {}};
  const testing::Identity outsider{.uid = kNobody, .gid = kNobody, .groups = {kSocketGroup}};
  const testing::Identity reader{
      .uid = kNobody, .gid = kNobody, .groups = {kSocketGroup, kReadGroup}};
  const testing::Identity member{
      .uid = kNobody, .gid = kNobody, .groups = {kSocketGroup, kFullGroup}};
  struct Expected {
    const testing::Identity* who;
    bool may_read;
    bool may_write;
  };
  // Alternating, so that a reused fd number would hand a stale decision to the next
  // connection if the registry kept one.
  const std::vector<Expected> sequence = {{&root, true, true},       {&outsider, false, false},
                                          {&member, true, true},     {&reader, true, false},
                                          {&outsider, false, false}, {&root, true, true},
                                          {&outsider, false, false}, {&reader, true, false}};
  int expected_deletes = 0;
  std::map<int, int> connections_per_fd;
  for (const Expected& expected : sequence) {
    SCOPED_TRACE(::testing::Message() << "uid " << expected.who->uid << " groups "
                                      << ::testing::PrintToString(expected.who->groups));
    Client client = ClientAs(*expected.who);
    ASSERT_NE(client.channel, nullptr);
    const Answer read = GetHostInfo(client.channel);
    const std::optional<int> server_fd = ServerFdOf(client.pid);
    ASSERT_TRUE(server_fd.has_value());
    ++connections_per_fd[*server_fd];
    if (expected.may_read) {
      ASSERT_TRUE(read.status.ok()) << read.status.error_message();
      // gRPC 1.51 names a channel added from an fd "fd:N": what the registry keys on.
      EXPECT_EQ(read.peer, absl::StrCat("fd:", *server_fd));
    } else {
      EXPECT_EQ(read.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
      EXPECT_THAT(read.status.error_message(), HasSubstr("uid 65534 may not call GetHostInfo"));
    }
    const grpc::Status write = DeleteVm(client.channel);
    if (expected.may_write) {
      EXPECT_TRUE(write.ok()) << write.error_message();
      ++expected_deletes;
    } else {
      EXPECT_EQ(write.error_code(), grpc::StatusCode::PERMISSION_DENIED);
      EXPECT_THAT(write.error_message(), HasSubstr("DeleteVm"));
    }
    // A refused DeleteVm never got past the guard.
    EXPECT_EQ(vm_.deleted.load(), expected_deletes);
    // The health service has no guard of its own: the filter cancels it for peers
    // without any access.
    EXPECT_EQ(HealthCheck(client.channel).error_code(),
              expected.may_read ? grpc::StatusCode::OK : grpc::StatusCode::CANCELLED);

    struct stat st {};
    ASSERT_EQ(fstat(*server_fd, &st), 0);
    client.channel.reset();
    ASSERT_NO_FATAL_FAILURE(WaitUntilServerClosed(*server_fd, st.st_ino));
  }
  // gRPC reused fd numbers (accept gets the lowest free one): the decisions above
  // were made across different users' connections on the same "fd:N".
  int reused = 0;
  for (const auto& [fd, count] : connections_per_fd) reused += count > 1;
  EXPECT_GT(reused, 0) << ::testing::PrintToString(connections_per_fd);
}

TEST_F(AcceptorTest, TheSocketsGroupGatesConnectingBeforeThePolicyDoes) {
  absl::StatusOr<testing::Connection> connection =
      testing::ConnectAs(path_, {.uid = kNobody, .gid = kNobody, .groups = {kFullGroup}});
  EXPECT_EQ(connection.status().code(), absl::StatusCode::kPermissionDenied) << connection.status();
}

}  // namespace
}  // namespace pvm::access
