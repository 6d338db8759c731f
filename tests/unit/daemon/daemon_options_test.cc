#include "daemon/daemon_options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace pvm {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;

class DaemonOptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pvm-options-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    config_ = (dir_ / "pvmd.conf").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  void WriteConfig(const std::string& text) { std::ofstream(config_) << text; }

  // ParseDaemonOptions on "pvmd" + args; `exit_code_` says how it ended.
  absl::StatusOr<DaemonOptions> Parse(std::vector<std::string> args) {
    args.insert(args.begin(), "pvmd");
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    exit_code_ = 0;
    return ParseDaemonOptions(static_cast<int>(args.size()), argv.data(), &exit_code_);
  }

  fs::path dir_;
  std::string config_;
  int exit_code_ = 0;
};

TEST_F(DaemonOptionsTest, TheFileFillsWhatNoFlagNames) {
  WriteConfig(R"(socket = "/tmp/from-file.sock"
[limits]
max_vms = 10
[module]
parameters = "a=1"
)");
  absl::StatusOr<DaemonOptions> options = Parse({"--config", config_});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->config_path, config_);
  EXPECT_EQ(options->socket_path, "/tmp/from-file.sock");
  EXPECT_EQ(options->limits.max_vms, 10u);
  EXPECT_EQ(options->module.parameters, "a=1");
  EXPECT_EQ(options->limits.max_memory_mib, DaemonOptions().limits.max_memory_mib);
  EXPECT_FALSE(options->guest_dir.empty());  // the build's or installed default
}

TEST_F(DaemonOptionsTest, FlagsOverrideTheFile) {
  WriteConfig(R"(socket = "/tmp/from-file.sock"
socket_mode = "0600"
socket_group = "kvm"
kvm_device = "/dev/file-kvm"
[access]
groups = ["a", "b"]
read_only_groups = ["r"]
[tcp]
listen = "127.0.0.1:7000"
tls_cert = "file-cert"
insecure = false
[limits]
max_vms = 10
max_vcpus_per_vm = 2
max_image_mib = 8
event_ring_size = 64
subscribers_per_vm = 2
[cpu]
vcpu_cpus = [0]
[module]
name = "kvm_amd"
parameters = "a=1"
load = true
)");
  absl::StatusOr<DaemonOptions> options = Parse({"--config",
                                                 config_,
                                                 "--socket",
                                                 "/tmp/flag.sock",
                                                 "--socket-mode",
                                                 "0640",
                                                 "--socket-group",
                                                 "",
                                                 "--group",
                                                 "c",
                                                 "--group",
                                                 "d",
                                                 "--read-only-group",
                                                 "s",
                                                 "--listen",
                                                 "[::1]:7001",
                                                 "--tls-cert",
                                                 "flag-cert",
                                                 "--tls-key",
                                                 "flag-key",
                                                 "--tls-client-ca",
                                                 "flag-ca",
                                                 "--insecure-tcp",
                                                 "--max-vms",
                                                 "20",
                                                 "--max-image-mib",
                                                 "32",
                                                 "--event-ring-size",
                                                 "128",
                                                 "--subscribers-per-vm",
                                                 "5",
                                                 "--vcpu-cpus",
                                                 "0,0",
                                                 "--module",
                                                 "kvm-pvm",
                                                 "--module-params",
                                                 "b=2",
                                                 "--no-module-load"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->socket_path, "/tmp/flag.sock");
  EXPECT_EQ(options->socket_mode, 0640u);
  EXPECT_EQ(options->socket_group, "");
  EXPECT_EQ(options->kvm_device, "/dev/file-kvm");  // no flag: the file's
  EXPECT_THAT(options->access.groups, ElementsAre("c", "d"));
  EXPECT_THAT(options->access.read_only_groups, ElementsAre("s"));
  EXPECT_EQ(options->tcp.listen_address, "[::1]:7001");
  EXPECT_EQ(options->tcp.tls_cert, "flag-cert");
  EXPECT_EQ(options->tcp.tls_key, "flag-key");
  EXPECT_EQ(options->tcp.tls_client_ca, "flag-ca");
  EXPECT_TRUE(options->tcp.insecure_tcp);
  EXPECT_EQ(options->limits.max_vms, 20u);
  EXPECT_EQ(options->limits.max_vcpus_per_vm, 2u);  // the file's
  EXPECT_EQ(options->limits.max_image_bytes, uint64_t{32} << 20);
  EXPECT_EQ(options->event_ring_size, 128u);
  EXPECT_EQ(options->max_subscribers_per_vm, 5u);
  EXPECT_THAT(options->limits.default_cpu_affinity, ElementsAre(0, 0));
  EXPECT_EQ(options->module.name, "kvm-pvm");
  EXPECT_EQ(options->module.parameters, "b=2");
  EXPECT_FALSE(options->module.load);
}

TEST_F(DaemonOptionsTest, AMissingExplicitFileIsAnError) {
  absl::StatusOr<DaemonOptions> options = Parse({"--config", (dir_ / "absent.conf").string()});
  EXPECT_FALSE(options.ok());
  EXPECT_EQ(exit_code_, 2);
  EXPECT_THAT(std::string(options.status().message()),
              ::testing::HasSubstr("No such file or directory"));
}

TEST_F(DaemonOptionsTest, AnEmptyConfigReadsNone) {
  absl::StatusOr<DaemonOptions> options = Parse({"--config", ""});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->socket_path, DaemonOptions().socket_path);
}

TEST_F(DaemonOptionsTest, AMissingDefaultFileIsFine) {
  if (fs::exists(DaemonOptions().config_path)) {
    GTEST_SKIP() << DaemonOptions().config_path << " exists on this host";
  }
  absl::StatusOr<DaemonOptions> options = Parse({});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->limits.max_vms, DaemonOptions().limits.max_vms);
}

TEST_F(DaemonOptionsTest, ABadFileStopsStartWithExitCode2) {
  WriteConfig("[limits]\nmax_vm = 3\n");
  absl::StatusOr<DaemonOptions> options = Parse({"--config", config_});
  EXPECT_FALSE(options.ok());
  EXPECT_EQ(exit_code_, 2);
  EXPECT_EQ(options.status().message(),
            config_ + ":2:1: unknown key 'limits.max_vm' (did you mean max_vms?)");
}

TEST_F(DaemonOptionsTest, DefaultMemoryBeyondTheMaximumNamesWhereEachCameFrom) {
  WriteConfig("[limits]\ndefault_memory_mib = 128\n");
  absl::StatusOr<DaemonOptions> options = Parse({"--config", config_, "--max-memory-mib", "64"});
  EXPECT_FALSE(options.ok());
  EXPECT_EQ(exit_code_, 2);
  EXPECT_EQ(
      options.status().message(),
      config_ +
          ":2:1: limits.default_memory_mib (128 MiB) is larger than --max-memory-mib (64 MiB)");
  // Both from the file; and a flag can repair what the file got wrong.
  WriteConfig("[limits]\ndefault_memory_mib = 128\nmax_memory_mib = 64\n");
  EXPECT_EQ(Parse({"--config", config_}).status().message(),
            config_ + ":2:1: limits.default_memory_mib (128 MiB) is larger than " + config_ +
                ":3:1: limits.max_memory_mib (64 MiB)");
  EXPECT_TRUE(Parse({"--config", config_, "--default-memory-mib", "32"}).ok());
  // Only defaults and a flag.
  EXPECT_EQ(Parse({"--config", "", "--default-memory-mib", "8000"}).status().message(),
            "--default-memory-mib (8000 MiB) is larger than limits.max_memory_mib (the default) "
            "(4096 MiB)");
}

TEST_F(DaemonOptionsTest, FlagsAreCheckedLikeTheFile) {
  EXPECT_EQ(Parse({"--config", "", "--socket-mode", "0666"}).status().message(),
            "--socket-mode: refusing a world-writable socket (0666): anyone on the host could "
            "drive pvmd");
  EXPECT_EQ(exit_code_, 2);
  EXPECT_EQ(Parse({"--config", "", "--listen", "nohost"}).status().message(),
            "--listen: 'nohost' is not HOST:PORT (e.g. 127.0.0.1:7000 or [::1]:7000)");
  EXPECT_EQ(Parse({"--config", "", "--module", "a/b"}).status().message(),
            "--module: 'a/b' is not a module name (letters, digits, '_' and '-', at most 55)");
  EXPECT_EQ(Parse({"--config", "", "--group", ""}).status().message(),
            "--group: a group name is empty");
  EXPECT_THAT(std::string(Parse({"--config", "", "--vcpu-cpus", "100000"}).status().message()),
              ::testing::StartsWith("--vcpu-cpus: "));
  // Out of range: CLI11's own check and usage message, also exit 2.
  EXPECT_FALSE(Parse({"--config", "", "--event-ring-size", "8"}).ok());
  EXPECT_EQ(exit_code_, 2);
  EXPECT_FALSE(Parse({"--config", "", "--subscribers-per-vm", "0"}).ok());
  EXPECT_EQ(exit_code_, 2);
}

TEST_F(DaemonOptionsTest, TheFileDoesNotHideTheFlagsDefaults) {
  // --help still works with a broken file: it is read after the flags are parsed.
  WriteConfig("this is not toml\n");
  EXPECT_FALSE(Parse({"--config", config_, "--help"}).ok());
  EXPECT_EQ(exit_code_, 0);
}

}  // namespace
}  // namespace pvm
