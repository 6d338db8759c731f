#include "daemon/config_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/status/status.h"

namespace pvm {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// The message of applying `text` (named "t.conf") onto the defaults; "" when it applied.
std::string ErrorOf(const std::string& text) {
  DaemonOptions options;
  absl::StatusOr<ConfigPositions> applied = ApplyConfigText(text, "t.conf", &options);
  if (applied.ok()) return "";
  EXPECT_EQ(applied.status().code(), absl::StatusCode::kInvalidArgument) << applied.status();
  return std::string(applied.status().message());
}

void ExpectLimitsEqual(const vmm::VmLimits& a, const vmm::VmLimits& b) {
  EXPECT_EQ(a.max_vms, b.max_vms);
  EXPECT_EQ(a.max_vcpus_per_vm, b.max_vcpus_per_vm);
  EXPECT_EQ(a.default_memory_mib, b.default_memory_mib);
  EXPECT_EQ(a.max_memory_mib, b.max_memory_mib);
  EXPECT_EQ(a.max_image_bytes, b.max_image_bytes);
  EXPECT_EQ(a.console_capacity, b.console_capacity);
  EXPECT_EQ(a.default_cpu_affinity, b.default_cpu_affinity);
}

// Every field, so a field the file cannot reach shows up as a difference.
void ExpectOptionsEqual(const DaemonOptions& a, const DaemonOptions& b) {
  EXPECT_EQ(a.config_path, b.config_path);
  EXPECT_EQ(a.socket_path, b.socket_path);
  EXPECT_EQ(a.socket_mode, b.socket_mode);
  EXPECT_EQ(a.socket_group, b.socket_group);
  EXPECT_EQ(a.access, b.access);
  EXPECT_EQ(a.tcp, b.tcp);
  EXPECT_EQ(a.guest_dir, b.guest_dir);
  EXPECT_EQ(a.kvm_device, b.kvm_device);
  EXPECT_EQ(a.module, b.module);
  ExpectLimitsEqual(a.limits, b.limits);
  EXPECT_EQ(a.event_ring_size, b.event_ring_size);
  EXPECT_EQ(a.max_subscribers_per_vm, b.max_subscribers_per_vm);
}

TEST(ConfigFileTest, AGoodFileFillsEveryField) {
  const std::string text = R"(socket = "/tmp/p/pvmd.sock"
socket_mode = "0600"
socket_group = "kvm"
guest_dir = "/opt/guests"
kvm_device = "/dev/kvm-test"

[access]
groups = ["pvm", "ops"]
read_only_groups = ["audit"]

[tcp]
listen = "[::1]:7000"
tls_cert = "/etc/pvmd/cert.pem"
tls_key = "/etc/pvmd/key.pem"
tls_client_ca = "/etc/pvmd/ca.pem"
insecure = true

[limits]
max_vms = 8
max_vcpus_per_vm = 4
default_memory_mib = 32
max_memory_mib = 512
max_image_mib = 16
console_buffer = 4096
event_ring_size = 1024
subscribers_per_vm = 3

[cpu]
vcpu_cpus = [0]

[module]
name = "kvm-pvm"
parameters = "pvm_debug=1 verbose=Y"
load = false

[gdb]
allow_remote = true
)";
  DaemonOptions options;
  absl::StatusOr<ConfigPositions> positions = ApplyConfigText(text, "t.conf", &options);
  ASSERT_TRUE(positions.ok()) << positions.status();
  EXPECT_EQ(options.socket_path, "/tmp/p/pvmd.sock");
  EXPECT_EQ(options.socket_mode, 0600u);
  EXPECT_EQ(options.socket_group, "kvm");
  EXPECT_EQ(options.guest_dir, "/opt/guests");
  EXPECT_EQ(options.kvm_device, "/dev/kvm-test");
  EXPECT_THAT(options.access.groups, ElementsAre("pvm", "ops"));
  EXPECT_THAT(options.access.read_only_groups, ElementsAre("audit"));
  EXPECT_EQ(options.tcp.listen_address, "[::1]:7000");
  EXPECT_EQ(options.tcp.tls_cert, "/etc/pvmd/cert.pem");
  EXPECT_EQ(options.tcp.tls_key, "/etc/pvmd/key.pem");
  EXPECT_EQ(options.tcp.tls_client_ca, "/etc/pvmd/ca.pem");
  EXPECT_TRUE(options.tcp.insecure_tcp);
  EXPECT_TRUE(options.gdb_allow_remote);
  EXPECT_EQ(options.limits.max_vms, 8u);
  EXPECT_EQ(options.limits.max_vcpus_per_vm, 4u);
  EXPECT_EQ(options.limits.default_memory_mib, 32u);
  EXPECT_EQ(options.limits.max_memory_mib, 512u);
  EXPECT_EQ(options.limits.max_image_bytes, uint64_t{16} << 20);
  EXPECT_EQ(options.limits.console_capacity, 4096u);
  EXPECT_EQ(options.event_ring_size, 1024u);
  EXPECT_EQ(options.max_subscribers_per_vm, 3u);
  EXPECT_THAT(options.limits.default_cpu_affinity, ElementsAre(0));
  EXPECT_EQ(options.module.name, "kvm-pvm");
  EXPECT_EQ(options.module.parameters, "pvm_debug=1 verbose=Y");
  EXPECT_FALSE(options.module.load);
  // Where each key is, for the checks that span keys.
  EXPECT_EQ(positions->at("socket"), "t.conf:1:1");
  EXPECT_EQ(positions->at("limits.max_vms"), "t.conf:19:1");
  EXPECT_EQ(positions->at("module.load"), "t.conf:34:1");
  EXPECT_EQ(positions->size(), KnownConfigKeys().size());
}

TEST(ConfigFileTest, AnEmptyFileChangesNothing) {
  DaemonOptions options;
  absl::StatusOr<ConfigPositions> positions = ApplyConfigText("# nothing\n", "t.conf", &options);
  ASSERT_TRUE(positions.ok()) << positions.status();
  EXPECT_THAT(*positions, IsEmpty());
  ExpectOptionsEqual(options, DaemonOptions());
}

TEST(ConfigFileTest, DottedKeysAndInlineTablesAreTheSameKeys) {
  DaemonOptions options;
  ASSERT_TRUE(ApplyConfigText("limits.max_vms = 3\nmodule = { name = \"kvm_amd\", load = false }\n",
                              "t.conf", &options)
                  .ok());
  EXPECT_EQ(options.limits.max_vms, 3u);
  EXPECT_EQ(options.module.name, "kvm_amd");
  EXPECT_FALSE(options.module.load);
}

TEST(ConfigFileTest, ASyntaxErrorNamesItsPosition) {
  EXPECT_THAT(ErrorOf("socket = \"/run/x\"\nmax_vms = \n"), ::testing::StartsWith("t.conf:2:"));
  EXPECT_THAT(ErrorOf("[limits]\nmax_vms = 1\nmax_vms = 2\n"),
              ::testing::StartsWith("t.conf:3:"));  // toml++: a redefinition
}

TEST(ConfigFileTest, AnUnknownKeyIsRefusedWithASuggestion) {
  EXPECT_EQ(ErrorOf("[limits]\nmax_vm = 3\n"),
            "t.conf:2:1: unknown key 'limits.max_vm' (did you mean max_vms?)");
  EXPECT_EQ(ErrorOf("\n[limit]\nmax_vms = 3\n"),
            "t.conf:2:2: unknown key 'limit' (did you mean limits?)");
  // The right name in the wrong table.
  EXPECT_EQ(ErrorOf("socket = \"/s\"\nmax_vms = 3\n"),
            "t.conf:2:1: unknown key 'max_vms' (did you mean limits.max_vms?)");
  EXPECT_EQ(ErrorOf("[cpu]\nsocket_mode = \"0600\"\n"),
            "t.conf:2:1: unknown key 'cpu.socket_mode' (socket_mode is a top-level key: put it "
            "before the first [table])");
  // Nothing close: no guess.
  EXPECT_EQ(ErrorOf("[module]\nfirmware = \"x\"\n"), "t.conf:2:1: unknown key 'module.firmware'");
}

TEST(ConfigFileTest, AValueOfTheWrongTypeIsRefused) {
  EXPECT_EQ(ErrorOf("[limits]\nmax_vms = \"8\"\n"),
            "t.conf:2:11: limits.max_vms: must be an integer, not a string");
  EXPECT_EQ(ErrorOf("[limits]\nmax_vms = 8.0\n"),
            "t.conf:2:11: limits.max_vms: must be an integer, not a floating-point number");
  EXPECT_EQ(ErrorOf("socket_mode = 660\n"),
            "t.conf:1:15: socket_mode: must be a string of octal digits like \"0660\", not an "
            "integer");
  EXPECT_EQ(ErrorOf("[module]\nload = \"yes\"\n"),
            "t.conf:2:8: module.load: must be true or false, not a string");
  EXPECT_EQ(ErrorOf("[access]\ngroups = \"pvm\"\n"),
            "t.conf:2:10: access.groups: must be an array of strings, not a string");
  EXPECT_EQ(ErrorOf("[access]\ngroups = [\"pvm\", 7]\n"),
            "t.conf:2:10: access.groups: must be an array of strings; element 2 is an integer");
  EXPECT_EQ(ErrorOf("limits = 5\n"),
            "t.conf:1:10: 'limits' must be a table ([limits]), not an integer");
  EXPECT_EQ(ErrorOf("[socket]\n"), "t.conf:1:1: socket must be a value, not a table");
}

TEST(ConfigFileTest, AValueOutOfRangeIsRefused) {
  EXPECT_EQ(ErrorOf("[limits]\nmax_vms = 0\n"),
            "t.conf:2:11: limits.max_vms: 0 is out of range (1 to 4096)");
  EXPECT_EQ(ErrorOf("[limits]\nmax_memory_mib = -1\n"),
            "t.conf:2:18: limits.max_memory_mib: -1 is out of range (2 to 8192)");
  EXPECT_EQ(ErrorOf("[limits]\nevent_ring_size = 1_000_000\n"),
            "t.conf:2:19: limits.event_ring_size: 1000000 is out of range (16 to 262144)");
  EXPECT_EQ(ErrorOf("[limits]\nsubscribers_per_vm = 0\n"),
            "t.conf:2:22: limits.subscribers_per_vm: 0 is out of range (1 to 4096)");
}

TEST(ConfigFileTest, TheFlagsChecksApplyToTheFile) {
  EXPECT_EQ(ErrorOf("socket_mode = \"0666\"\n"),
            "t.conf:1:15: socket_mode: refusing a world-writable socket (0666): anyone on the "
            "host could drive pvmd");
  EXPECT_EQ(ErrorOf("socket_mode = \"rw-rw----\"\n"),
            "t.conf:1:15: socket_mode: must be octal permission bits like 0660, not 'rw-rw----'");
  EXPECT_THAT(ErrorOf("[cpu]\nvcpu_cpus = [0, 100000]\n"),
              ::testing::StartsWith("t.conf:2:13: cpu.vcpu_cpus: "));
  EXPECT_EQ(ErrorOf("[cpu]\nvcpu_cpus = [-1]\n"),
            "t.conf:2:13: cpu.vcpu_cpus: CPU -1 does not exist");
  EXPECT_EQ(ErrorOf("[tcp]\nlisten = \"localhost\"\n"),
            "t.conf:2:10: tcp.listen: 'localhost' is not HOST:PORT (e.g. 127.0.0.1:7000 or "
            "[::1]:7000)");
  EXPECT_EQ(ErrorOf("[tcp]\nlisten = \"127.0.0.1:99999\"\n"),
            "t.conf:2:10: tcp.listen: '127.0.0.1:99999': the port must be 0 to 65535");
  EXPECT_EQ(ErrorOf("[module]\nname = \"kvm pvm\"\n"),
            "t.conf:2:8: module.name: 'kvm pvm' is not a module name (letters, digits, '_' and "
            "'-', at most 55)");
  EXPECT_EQ(ErrorOf("socket = \"\"\n"), "t.conf:1:10: socket: must not be empty");
}

TEST(ConfigFileTest, EveryMistakeIsReportedInFileOrder) {
  EXPECT_EQ(ErrorOf("[module]\nload = 1\n[limits]\nmax_vms = 0\nmax_vm = 1\n"),
            "t.conf:2:8: module.load: must be true or false, not an integer\n"
            "t.conf:4:11: limits.max_vms: 0 is out of range (1 to 4096)\n"
            "t.conf:5:1: unknown key 'limits.max_vm' (did you mean max_vms?)");
}

class ConfigFileOnDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pvm-config-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(ConfigFileOnDiskTest, AMissingFileIsNotFoundAndADirectoryIsNoFile) {
  DaemonOptions options;
  absl::StatusOr<ConfigPositions> missing =
      ApplyConfigFile((dir_ / "absent.conf").string(), &options);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("absent.conf: No such file or directory"));
  absl::StatusOr<ConfigPositions> directory = ApplyConfigFile(dir_.string(), &options);
  EXPECT_EQ(directory.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(directory.status().message()), HasSubstr("not a regular file"));
}

TEST_F(ConfigFileOnDiskTest, MessagesNameThePath) {
  const fs::path path = dir_ / "pvmd.conf";
  std::ofstream(path) << "# pvmd\n\n[limits]\n\n\n\nmax_vm = 3\n";
  DaemonOptions options;
  absl::StatusOr<ConfigPositions> applied = ApplyConfigFile(path.string(), &options);
  EXPECT_EQ(applied.status().message(),
            path.string() + ":7:1: unknown key 'limits.max_vm' (did you mean max_vms?)");
}

// deploy/pvmd.conf, the file the package installs, is the defaults and nothing else,
// and shows every key: it can never drift from DaemonOptions.
TEST(ShippedConfigTest, ParsesToExactlyTheDefaultsWithEveryKey) {
  DaemonOptions options;
  absl::StatusOr<ConfigPositions> positions =
      ApplyConfigFile(PVMD_DEPLOY_DIR "/pvmd.conf", &options);
  ASSERT_TRUE(positions.ok()) << positions.status();
  ExpectOptionsEqual(options, DaemonOptions());
  std::vector<std::string> keys;
  for (const auto& [key, position] : *positions) keys.push_back(key);
  std::vector<std::string> known = KnownConfigKeys();
  std::sort(known.begin(), known.end());
  EXPECT_EQ(keys, known);
}

TEST(ShippedConfigTest, DefaultsDifferFromTheGoodFile) {
  // Guards the test above: ExpectOptionsEqual does see a difference.
  DaemonOptions changed;
  changed.max_subscribers_per_vm = 3;
  EXPECT_NONFATAL_FAILURE(ExpectOptionsEqual(changed, DaemonOptions()), "max_subscribers_per_vm");
}

}  // namespace
}  // namespace pvm
