// What the acceptor reads off a connected unix socket: SO_PEERCRED and
// SO_PEERGROUPS give back exactly the connecting process's pid, uid, gid and
// supplementary groups; and the registry keyed by fd number.
#include "daemon/access/peer_credentials.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "daemon/unix_socket.h"
#include "tests/unit/access/connect_as.h"

namespace pvm::access {
namespace {

using ::testing::Optional;
using ::testing::UnorderedElementsAreArray;

class ScratchDirectory {
 public:
  ScratchDirectory() {
    char pattern[] = "/tmp/pvm-peer-test-XXXXXX";
    path_ = mkdtemp(pattern);
    // Other users' children connect to sockets in here.
    chmod(path_.c_str(), 0755);
  }
  ~ScratchDirectory() { std::filesystem::remove_all(path_); }
  std::string Path(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

TEST(ReadPeerCredentials, SocketpairReportsThisProcess) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  vmm::UniqueFd a(fds[0]);
  vmm::UniqueFd b(fds[1]);
  absl::StatusOr<PeerCredentials> peer = ReadPeerCredentials(a.get());
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_EQ(peer->pid, getpid());
  EXPECT_EQ(peer->uid, geteuid());
  EXPECT_EQ(peer->gid, getegid());
  std::vector<gid_t> groups(static_cast<size_t>(getgroups(0, nullptr)));
  ASSERT_EQ(getgroups(static_cast<int>(groups.size()), groups.data()),
            static_cast<int>(groups.size()));
  EXPECT_THAT(peer->groups, UnorderedElementsAreArray(groups));
}

TEST(ReadPeerCredentials, NotASocketIsAnError) {
  vmm::UniqueFd file(open("/dev/null", O_RDONLY | O_CLOEXEC));
  EXPECT_FALSE(ReadPeerCredentials(file.get()).ok());
}

// A listening socket in a scratch directory that other users can reach.
struct Listener {
  ScratchDirectory directory;
  std::string path = directory.Path("s.sock");
  vmm::UniqueFd fd;
};

void Listen(Listener& listener, unsigned mode) {
  absl::StatusOr<vmm::UniqueFd> fd = ListenOnUnixSocket(listener.path, mode);
  ASSERT_TRUE(fd.ok()) << fd.status();
  listener.fd = *std::move(fd);
}

vmm::UniqueFd AcceptOne(const Listener& listener) {
  return vmm::UniqueFd(accept4(listener.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
}

TEST(ReadPeerCredentials, AnotherUsersConnectionCarriesItsUidGidAndGroups) {
  PVM_REQUIRE_ROOT();
  Listener listener;
  ASSERT_NO_FATAL_FAILURE(Listen(listener, 0666));
  const testing::Identity nobody{.uid = 65534, .gid = 65534, .groups = {100, 50, 40}};
  absl::StatusOr<testing::Connection> client = testing::ConnectAs(listener.path, nobody);
  ASSERT_TRUE(client.ok()) << client.status();
  vmm::UniqueFd server = AcceptOne(listener);
  ASSERT_TRUE(server.valid());

  absl::StatusOr<PeerCredentials> peer = ReadPeerCredentials(server.get());
  ASSERT_TRUE(peer.ok()) << peer.status();
  // Recorded at connect(): the child has exited since, and it is still its pid.
  EXPECT_EQ(peer->pid, client->pid);
  EXPECT_EQ(peer->uid, 65534u);
  EXPECT_EQ(peer->gid, 65534u);
  EXPECT_THAT(peer->groups, UnorderedElementsAreArray(nobody.groups));
}

TEST(ReadPeerCredentials, ManyGroupsNeedALargerBuffer) {
  PVM_REQUIRE_ROOT();
  Listener listener;
  ASSERT_NO_FATAL_FAILURE(Listen(listener, 0666));
  testing::Identity many{.uid = 65534, .gid = 65534, .groups = {}};
  for (gid_t gid = 20000; gid < 20300; ++gid) many.groups.push_back(gid);  // > the first 64
  absl::StatusOr<testing::Connection> client = testing::ConnectAs(listener.path, many);
  ASSERT_TRUE(client.ok()) << client.status();
  vmm::UniqueFd server = AcceptOne(listener);
  absl::StatusOr<PeerCredentials> peer = ReadPeerCredentials(server.get());
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_THAT(peer->groups, UnorderedElementsAreArray(many.groups));
}

TEST(ListenOnUnixSocket, TheFileHasTheModeAndTheGroupDecidesWhoConnects) {
  PVM_REQUIRE_ROOT();
  Listener listener;
  ASSERT_NO_FATAL_FAILURE(Listen(listener, 0660));
  ASSERT_TRUE(SetSocketGroup(listener.path, 100).ok());
  struct stat st {};
  ASSERT_EQ(stat(listener.path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_gid, 100u);

  // In the socket's group: connects (what it may call is the policy's business).
  EXPECT_TRUE(
      testing::ConnectAs(listener.path, {.uid = 65534, .gid = 65534, .groups = {100}}).ok());
  // Not in it: the file's permissions refuse the connect itself.
  absl::StatusOr<testing::Connection> outsider =
      testing::ConnectAs(listener.path, {.uid = 65534, .gid = 65534, .groups = {}});
  EXPECT_EQ(outsider.status().code(), absl::StatusCode::kPermissionDenied) << outsider.status();
}

TEST(ListenOnUnixSocket, ARefusedBindLeavesNothingListening) {
  Listener listener;
  ASSERT_NO_FATAL_FAILURE(Listen(listener, 0600));
  // The same path again: EADDRINUSE (PrepareSocketPath is what clears stale files).
  EXPECT_FALSE(ListenOnUnixSocket(listener.path, 0600).ok());
}

TEST(PeerRegistry, RecordReplacesWhatAClosedConnectionLeft) {
  PeerRegistry registry;
  EXPECT_EQ(registry.Find(7), std::nullopt);
  registry.Record(7, {.pid = 1, .uid = 0, .gid = 0, .groups = {}});
  registry.Record(7, {.pid = 2, .uid = 65534, .gid = 65534, .groups = {100}});
  const std::optional<PeerCredentials> found = registry.Find(7);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->pid, 2);
  EXPECT_EQ(found->uid, 65534u);
  EXPECT_EQ(registry.Find(8), std::nullopt);
}

TEST(FdOfPeer, OnlyGrpcsNameForAChannelFromAnFd) {
  EXPECT_THAT(FdOfPeer("fd:9"), Optional(9));
  EXPECT_THAT(FdOfPeer("fd:123"), Optional(123));
  for (const char* peer : {"", "fd:", "fd:x", "fd:-1", "ipv4:127.0.0.1:5000", "unix:/run/p.sock",
                           "ipv6:[::1]:5000", "xfd:9"}) {
    EXPECT_EQ(FdOfPeer(peer), std::nullopt) << peer;
  }
}

}  // namespace
}  // namespace pvm::access
