// Where the gdb stub listens: parsing what a user types, and binding with the checks
// that keep the stub local (loopback only unless allowed, unix sockets mode 0600, no
// file of someone else's replaced).
#include "daemon/gdb/gdb_endpoint.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/strings/numbers.h"

namespace pvm::gdb {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(ParseGdbEndpointTest, Ipv4HostAndPort) {
  absl::StatusOr<GdbEndpoint> e = ParseGdbEndpoint("127.0.0.1:1234");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->kind, GdbEndpoint::Kind::kTcp);
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, 1234);
}

TEST(ParseGdbEndpointTest, BracketedIpv6) {
  absl::StatusOr<GdbEndpoint> e = ParseGdbEndpoint("[::1]:4321");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->kind, GdbEndpoint::Kind::kTcp);
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->port, 4321);
}

TEST(ParseGdbEndpointTest, LocalhostAndPortZero) {
  absl::StatusOr<GdbEndpoint> e = ParseGdbEndpoint("localhost:0");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->kind, GdbEndpoint::Kind::kTcp);
  EXPECT_EQ(e->host, "localhost");
  EXPECT_EQ(e->port, 0);
  e = ParseGdbEndpoint("localhost:65535");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->port, 65535);
}

TEST(ParseGdbEndpointTest, UnixSocketWithOrWithoutPrefix) {
  absl::StatusOr<GdbEndpoint> e = ParseGdbEndpoint("unix:/run/pvmd/vm1.gdb");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->kind, GdbEndpoint::Kind::kUnix);
  EXPECT_EQ(e->path, "/run/pvmd/vm1.gdb");
  e = ParseGdbEndpoint("/tmp/x.sock");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->kind, GdbEndpoint::Kind::kUnix);
  EXPECT_EQ(e->path, "/tmp/x.sock");
}

TEST(ParseGdbEndpointTest, BadPortsAreRefused) {
  for (const char* text : {"127.0.0.1:65536", "127.0.0.1:99999", "127.0.0.1:12a", "127.0.0.1:-1",
                           "127.0.0.1:", "localhost: 1"}) {
    absl::StatusOr<GdbEndpoint> e = ParseGdbEndpoint(text);
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(e.status().message(), HasSubstr("port")) << text;
  }
}

TEST(ParseGdbEndpointTest, MissingPortOrHostIsRefused) {
  for (const char* text : {"127.0.0.1", "localhost", "", ":1234", "unix:", "unix:relative.sock"}) {
    absl::StatusOr<GdbEndpoint> e = ParseGdbEndpoint(text);
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
}

TEST(ListenTest, LoopbackPortZeroBindsAndReportsTheRealPort) {
  absl::StatusOr<BoundEndpoint> bound =
      Listen({.kind = GdbEndpoint::Kind::kTcp, .host = "127.0.0.1", .port = 0}, false);
  ASSERT_TRUE(bound.ok()) << bound.status();
  ASSERT_THAT(bound->address, StartsWith("127.0.0.1:"));
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(bound->address.substr(10), &port)) << bound->address;
  EXPECT_GT(port, 0);
  EXPECT_LT(port, 65536);

  // It really listens there: a connect succeeds.
  int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(client, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0)
      << std::strerror(errno);
  ::close(client);
}

TEST(ListenTest, Ipv6LoopbackIsReportedBracketed) {
  absl::StatusOr<BoundEndpoint> bound =
      Listen({.kind = GdbEndpoint::Kind::kTcp, .host = "::1", .port = 0}, false);
  if (!bound.ok() && bound.status().code() != absl::StatusCode::kPermissionDenied &&
      bound.status().code() != absl::StatusCode::kInvalidArgument) {
    GTEST_SKIP() << "no IPv6 loopback here: " << bound.status();
  }
  ASSERT_TRUE(bound.ok()) << bound.status();
  EXPECT_THAT(bound->address, StartsWith("[::1]:"));
}

TEST(ListenTest, LocalhostIsLoopback) {
  absl::StatusOr<BoundEndpoint> bound =
      Listen({.kind = GdbEndpoint::Kind::kTcp, .host = "localhost", .port = 0}, false);
  if (bound.status().code() == absl::StatusCode::kInvalidArgument) {
    GTEST_SKIP() << "localhost does not resolve here: " << bound.status();
  }
  ASSERT_TRUE(bound.ok()) << bound.status();
  EXPECT_TRUE(bound->address.starts_with("127.") || bound->address.starts_with("[::1]:"))
      << bound->address;
}

TEST(ListenTest, AnyAddressNeedsAllowRemote) {
  absl::StatusOr<BoundEndpoint> bound =
      Listen({.kind = GdbEndpoint::Kind::kTcp, .host = "0.0.0.0", .port = 0}, false);
  EXPECT_EQ(bound.status().code(), absl::StatusCode::kPermissionDenied) << bound.status();
  bound = Listen({.kind = GdbEndpoint::Kind::kTcp, .host = "0.0.0.0", .port = 0}, true);
  ASSERT_TRUE(bound.ok()) << bound.status();
  EXPECT_THAT(bound->address, StartsWith("0.0.0.0:"));
}

TEST(ListenTest, HostNamesOtherThanLocalhostAreNotLookedUp) {
  absl::StatusOr<BoundEndpoint> bound =
      Listen({.kind = GdbEndpoint::Kind::kTcp, .host = "example.com", .port = 0}, true);
  EXPECT_EQ(bound.status().code(), absl::StatusCode::kInvalidArgument) << bound.status();
}

class ListenUnixTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // /tmp, not TempDir(): Bazel's test directory is longer than a socket path may be.
    std::string pattern = "/tmp/gdb_endpoint_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << std::strerror(errno);
    dir_ = pattern;
    path_ = dir_ + "/vm.gdb";
  }
  void TearDown() override {
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }

  std::string dir_;
  std::string path_;
};

TEST_F(ListenUnixTest, SocketIsCreatedMode0600) {
  absl::StatusOr<BoundEndpoint> bound =
      Listen({.kind = GdbEndpoint::Kind::kUnix, .path = path_}, false);
  ASSERT_TRUE(bound.ok()) << bound.status();
  EXPECT_EQ(bound->address, path_);
  struct stat st {};
  ASSERT_EQ(::lstat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);

  int client = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(client, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path_.c_str(), sizeof(address.sun_path) - 1);
  EXPECT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0)
      << std::strerror(errno);
  ::close(client);
}

TEST_F(ListenUnixTest, AStaleSocketOfOursIsReplaced) {
  {
    absl::StatusOr<BoundEndpoint> first =
        Listen({.kind = GdbEndpoint::Kind::kUnix, .path = path_}, false);
    ASSERT_TRUE(first.ok()) << first.status();
  }  // closed; the file stays behind, as after a crash
  absl::StatusOr<BoundEndpoint> second =
      Listen({.kind = GdbEndpoint::Kind::kUnix, .path = path_}, false);
  EXPECT_TRUE(second.ok()) << second.status();
}

TEST_F(ListenUnixTest, RefusesToReplaceARegularFile) {
  { std::ofstream(path_) << "someone's data\n"; }
  absl::StatusOr<BoundEndpoint> bound =
      Listen({.kind = GdbEndpoint::Kind::kUnix, .path = path_}, false);
  EXPECT_EQ(bound.status().code(), absl::StatusCode::kAlreadyExists) << bound.status();
  std::ifstream in(path_);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "someone's data");
}

TEST_F(ListenUnixTest, APathTooLongForSunPathIsRefused) {
  const std::string longer = dir_ + "/" + std::string(sizeof(sockaddr_un{}.sun_path), 'a');
  absl::StatusOr<BoundEndpoint> bound =
      Listen({.kind = GdbEndpoint::Kind::kUnix, .path = longer}, false);
  EXPECT_EQ(bound.status().code(), absl::StatusCode::kInvalidArgument) << bound.status();
}

}  // namespace
}  // namespace pvm::gdb
