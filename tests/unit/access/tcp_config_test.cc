// Which TCP listeners pvmd starts with: mutual TLS with all three files, plain TCP
// only on loopback and only when asked for.
#include "daemon/access/tcp_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pvm::access {
namespace {

using ::testing::HasSubstr;

TcpOptions Tls(std::string address) {
  return {.listen_address = std::move(address),
          .tls_cert = "/etc/pvmd/server.pem",
          .tls_key = "/etc/pvmd/server.key",
          .tls_client_ca = "/etc/pvmd/clients.pem",
          .insecure_tcp = false};
}

TcpOptions Insecure(std::string address) {
  return {.listen_address = std::move(address), .insecure_tcp = true};
}

// The listener CheckTcpOptions accepts; a failure for a refusal.
std::optional<TcpSecurity> Accepted(const TcpOptions& tcp) {
  absl::StatusOr<std::optional<TcpSecurity>> checked = CheckTcpOptions(tcp);
  EXPECT_TRUE(checked.ok()) << tcp.listen_address << ": " << checked.status();
  return checked.ok() ? *checked : std::nullopt;
}

TEST(IsLoopbackHost, LoopbackAddressesAndLocalhost) {
  for (const char* host : {"127.0.0.1", "127.1.2.3", "127.255.255.254", "::1", "localhost",
                           "LOCALHOST", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(IsLoopbackHost(host)) << host;
  }
  for (const char* host : {"0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "192.0.2.1", "::2",
                           "localhost.example", "pvmd", "127.1", "", "::ffff:10.0.0.1"}) {
    EXPECT_FALSE(IsLoopbackHost(host)) << host;
  }
}

TEST(HostOfAddress, StripsPortAndBrackets) {
  EXPECT_EQ(HostOfAddress("127.0.0.1:7000"), "127.0.0.1");
  EXPECT_EQ(HostOfAddress("[::1]:7000"), "::1");
  EXPECT_EQ(HostOfAddress("localhost:7000"), "localhost");
}

TEST(CheckTcpOptions, NoAddressNoListener) {
  EXPECT_EQ(Accepted({}), std::nullopt);
  // The files alone start nothing (a config file may keep them for later).
  TcpOptions files = Tls("");
  EXPECT_EQ(Accepted(files), std::nullopt);
}

TEST(CheckTcpOptions, AllThreeFilesAreMutualTlsOnAnyAddress) {
  for (const char* address : {"0.0.0.0:7000", "[::]:7000", "127.0.0.1:7000", "pvmd:7000"}) {
    EXPECT_EQ(Accepted(Tls(address)), TcpSecurity::kMutualTls) << address;
  }
}

TEST(CheckTcpOptions, NoFilesAndNoInsecureFlagRefusesToStart) {
  const absl::StatusOr<std::optional<TcpSecurity>> checked =
      CheckTcpOptions({.listen_address = "127.0.0.1:7000"});
  EXPECT_EQ(checked.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(checked.status().message(),
              HasSubstr("needs mutual TLS: --tls-cert, --tls-key and --tls-client-ca"));
}

TEST(CheckTcpOptions, SomeFilesNameTheMissingOnes) {
  TcpOptions tcp = Tls("0.0.0.0:7000");
  tcp.tls_key.clear();
  tcp.tls_client_ca.clear();
  const absl::StatusOr<std::optional<TcpSecurity>> checked = CheckTcpOptions(tcp);
  EXPECT_EQ(checked.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(checked.status().message(),
              HasSubstr("needs --tls-key (tcp.tls_key), --tls-client-ca (tcp.tls_client_ca) too"));
}

TEST(CheckTcpOptions, InsecureOnlyOnLoopback) {
  for (const char* address : {"127.0.0.1:7000", "[::1]:7000", "localhost:7000"}) {
    EXPECT_EQ(Accepted(Insecure(address)), TcpSecurity::kInsecureLoopback) << address;
  }
  for (const char* address : {"0.0.0.0:7000", "[::]:7000", "192.0.2.1:7000", "pvmd:7000"}) {
    const absl::StatusOr<std::optional<TcpSecurity>> checked = CheckTcpOptions(Insecure(address));
    EXPECT_EQ(checked.status().code(), absl::StatusCode::kInvalidArgument) << address;
    EXPECT_THAT(checked.status().message(), HasSubstr("only on a loopback address")) << address;
  }
}

TEST(CheckTcpOptions, InsecureAndTlsFilesExcludeEachOther) {
  TcpOptions tcp = Tls("127.0.0.1:7000");
  tcp.insecure_tcp = true;
  const absl::StatusOr<std::optional<TcpSecurity>> checked = CheckTcpOptions(tcp);
  EXPECT_EQ(checked.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(checked.status().message(), HasSubstr("exclude each other"));
}

}  // namespace
}  // namespace pvm::access
