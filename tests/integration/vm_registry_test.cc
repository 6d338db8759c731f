// Every refusal a client can get from the registry, with its code and message.
#include "daemon/vmm/vm_registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "daemon/vmm/kvm.h"
#include "tests/integration/guest_harness.h"
#include "tests/integration/guest_test.h"
#include "tests/support/kvm_required.h"

namespace pvm::testing {
namespace {

using ::testing::HasSubstr;

class VmRegistryTest : public GuestTest {
 protected:
  vmm::VmLimits Limits() const override {
    vmm::VmLimits limits;
    limits.max_vms = 2;
    limits.max_vcpus_per_vm = 32;
    limits.max_memory_mib = 128;
    limits.default_memory_mib = 16;
    return limits;
  }

  static vmm::VmRequestSpec Spec(const std::string& name, const std::string& image) {
    vmm::VmRequestSpec spec;
    spec.name = name;
    spec.image = image;
    return spec;
  }

  void ExpectRefused(const vmm::VmRequestSpec& spec, absl::StatusCode code,
                     const std::string& message) {
    absl::StatusOr<std::shared_ptr<vmm::Vm>> vm = registry_->Create(spec);
    ASSERT_FALSE(vm.ok()) << "created " << spec.name;
    EXPECT_EQ(vm.status().code(), code) << vm.status();
    EXPECT_THAT(std::string(vm.status().message()), HasSubstr(message));
    EXPECT_EQ(registry_->Get(spec.name).status().code(), absl::StatusCode::kNotFound)
        << "a refused VM must leave no trace";
  }

  std::string WriteTempFile(const std::string& content) {
    std::string path = (std::filesystem::temp_directory_path() /
                        ("pvm-registry-test-" + std::to_string(::getpid())))
                           .string();
    std::ofstream(path) << content;
    temp_files_.push_back(path);
    return path;
  }

  void TearDown() override {
    for (const std::string& path : temp_files_) {
      std::remove(path.c_str());
    }
  }

  std::vector<std::string> temp_files_;
};

TEST_F(VmRegistryTest, CreatesWithDefaultsAndRefusesADuplicateName) {
  absl::StatusOr<std::shared_ptr<vmm::Vm>> vm = registry_->Create(Spec("vm-7", "builtin:hello"));
  ASSERT_TRUE(vm.ok()) << vm.status();
  const vmm::VmSnapshot snapshot = (*vm)->Snapshot();
  EXPECT_EQ(snapshot.state, vmm::VmState::kCreated);
  EXPECT_EQ(snapshot.vcpus, 1u);
  EXPECT_EQ(snapshot.memory_bytes, uint64_t{16} << 20);
  EXPECT_EQ(snapshot.image_label, "builtin:hello");

  absl::StatusOr<std::shared_ptr<vmm::Vm>> again = registry_->Create(Spec("vm-7", "builtin:hello"));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(again.status().message()), HasSubstr("'vm-7' already exists"));
  EXPECT_EQ(registry_->List().size(), 1u);
}

TEST_F(VmRegistryTest, RefusesBadNames) {
  ExpectRefused(Spec("", "builtin:hello"), absl::StatusCode::kInvalidArgument, "needs a name");
  ExpectRefused(Spec("a/b", "builtin:hello"), absl::StatusCode::kInvalidArgument, "not allowed");
  ExpectRefused(Spec("-x", "builtin:hello"), absl::StatusCode::kInvalidArgument, "not allowed");
  ExpectRefused(Spec(std::string(65, 'a'), "builtin:hello"), absl::StatusCode::kInvalidArgument,
                "the limit is 64");
}

TEST_F(VmRegistryTest, RefusesVcpuCountsOutsideTheRange) {
  vmm::VmRequestSpec spec = Spec("v", "builtin:hello");
  spec.vcpus = 0;
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument, "vcpus must be in 1..32, not 0");
  spec.vcpus = 33;
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument, "vcpus must be in 1..32, not 33");
}

TEST_F(VmRegistryTest, RefusesMemorySizesOutsideTheLimits) {
  vmm::VmRequestSpec spec = Spec("m", "builtin:hello");
  spec.memory_mib = 0;
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument, "not 0");
  spec.memory_mib = 129;
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument, "beyond this daemon's limit of 128 MiB");
  spec.memory_mib = 3;
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument, "multiple of 2 MiB");
  // 2 MiB: the boot area (1 MiB), the image (~32 KiB) and 64 KiB per vCPU stack.
  spec.memory_mib = 2;
  spec.vcpus = 17;
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument, "cannot hold");
  spec.vcpus = 16;  // the stacks reach down to the image
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument, "image 'builtin:hello': ");
  spec.vcpus = 15;
  EXPECT_TRUE(registry_->Create(spec).ok());
}

TEST_F(VmRegistryTest, RefusesImagesItCannotUse) {
  ExpectRefused(Spec("i", "builtin:nope"), absl::StatusCode::kInvalidArgument,
                "no built-in guest named 'nope'");
  ExpectRefused(Spec("i", "builtin:../hello"), absl::StatusCode::kInvalidArgument,
                "no built-in guest named '../hello'");
  ExpectRefused(Spec("i", "relative/guest.elf"), absl::StatusCode::kInvalidArgument, "is relative");
  ExpectRefused(Spec("i", "/nonexistent/guest.elf"), absl::StatusCode::kInvalidArgument,
                "image '/nonexistent/guest.elf'");
  ExpectRefused(Spec("i", ""), absl::StatusCode::kInvalidArgument, "no image given");
  ExpectRefused(Spec("i", WriteTempFile("#!/bin/sh\necho not an ELF\n")),
                absl::StatusCode::kInvalidArgument, "image '/");
}

TEST_F(VmRegistryTest, RefusesVmsBeyondTheLimit) {
  ASSERT_TRUE(registry_->Create(Spec("a", "builtin:hello")).ok());
  ASSERT_TRUE(registry_->Create(Spec("b", "builtin:hello")).ok());
  ExpectRefused(Spec("c", "builtin:hello"), absl::StatusCode::kResourceExhausted, "limit of 2 VMs");
  ASSERT_TRUE(registry_->Delete("a").ok());
  EXPECT_TRUE(registry_->Create(Spec("c", "builtin:hello")).ok());
}

TEST_F(VmRegistryTest, TheObserverHearsEveryStateChangeGuestCausedOnesIncluded) {
  std::mutex mu;
  std::vector<std::string> heard;
  registry_->SetStateObserver(
      [&](const std::string& name, vmm::VmState state, const std::string& failure) {
        std::lock_guard lock(mu);
        heard.push_back(
            absl::StrCat(name, " ", vmm::VmStateName(state), failure.empty() ? "" : " (failure)"));
      });
  std::shared_ptr<vmm::Vm> counter = StartGuest("watched", "counter");
  ASSERT_NE(counter, nullptr);
  ASSERT_TRUE(counter->Pause().ok());
  ASSERT_TRUE(counter->Resume().ok());
  std::shared_ptr<vmm::Vm> fault = StartGuest("faulty", "fault");
  ASSERT_NE(fault, nullptr);
  ASSERT_EQ(WaitForVmState(*fault, vmm::VmState::kFailed), vmm::VmState::kFailed);
  std::lock_guard lock(mu);
  EXPECT_THAT(heard, ::testing::ElementsAre("watched running", "watched paused", "watched running",
                                            "faulty running", "faulty failed (failure)"));
}

TEST_F(VmRegistryTest, UnknownVmsAreNotFound) {
  EXPECT_EQ(registry_->Get("ghost").status().code(), absl::StatusCode::kNotFound);
  const absl::Status deleted = registry_->Delete("ghost");
  EXPECT_EQ(deleted.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(deleted.message()), HasSubstr("no VM named 'ghost'"));
}

}  // namespace
}  // namespace pvm::testing
