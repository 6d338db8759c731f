#include "daemon/host/module_status.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace pvm::host {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Pair;

// A throwaway /sys with just the module directories a test needs.
class FakeSysfs {
 public:
  FakeSysfs() : root_(fs::temp_directory_path() / ("pvm-sysfs-" + std::to_string(::getpid()))) {
    fs::remove_all(root_);
    fs::create_directories(root_ / "module");
  }
  ~FakeSysfs() { fs::remove_all(root_); }

  void AddModule(const std::string& name, const std::string* initstate,
                 const std::vector<std::pair<std::string, std::string>>& parameters) {
    const fs::path dir = root_ / "module" / name;
    fs::create_directories(dir / "parameters");
    if (initstate != nullptr) {
      std::ofstream(dir / "initstate") << *initstate << "\n";
    }
    for (const auto& [key, value] : parameters) {
      std::ofstream(dir / "parameters" / key) << value << "\n";
    }
  }
  std::string root() const { return root_.string(); }

 private:
  fs::path root_;
};

TEST(ModuleStatusTest, ADirectoryWithoutInitstateIsBuiltIn) {
  FakeSysfs sysfs;
  sysfs.AddModule("kvm_pvm", nullptr, {{"nx_huge_pages", "N"}, {"enable_pcid", "Y"}});
  const ModuleStatus status = DetectModule("kvm_pvm", sysfs.root());
  EXPECT_EQ(status.state, ModuleState::kBuiltin);
  EXPECT_THAT(status.parameters,
              ::testing::ElementsAre(Pair("enable_pcid", "Y"), Pair("nx_huge_pages", "N")));
  EXPECT_THAT(status.detail, HasSubstr("without initstate"));
}

TEST(ModuleStatusTest, LiveInitstateIsLoaded) {
  FakeSysfs sysfs;
  const std::string live = "live";
  sysfs.AddModule("kvm_pvm", &live, {});
  EXPECT_EQ(DetectModule("kvm_pvm", sysfs.root()).state, ModuleState::kLoaded);
}

TEST(ModuleStatusTest, GoingAwayIsNotLoaded) {
  FakeSysfs sysfs;
  const std::string going = "going";
  sysfs.AddModule("kvm_pvm", &going, {});
  const ModuleStatus status = DetectModule("kvm_pvm", sysfs.root());
  EXPECT_EQ(status.state, ModuleState::kAbsent);
  EXPECT_THAT(status.detail, HasSubstr("'going'"));
}

TEST(ModuleStatusTest, NoDirectoryIsAbsent) {
  FakeSysfs sysfs;
  const ModuleStatus status = DetectModule("kvm_pvm", sysfs.root());
  EXPECT_EQ(status.state, ModuleState::kAbsent);
  EXPECT_THAT(status.detail, HasSubstr("does not exist"));
}

TEST(ModuleStatusTest, ThisHostHasPvmBuiltIn) {
  // DESIGN.md: every machine of this project has kvm-pvm built into its kernel.
  if (!fs::exists("/dev/kvm")) {
    GTEST_SKIP() << "not a PVM host";
  }
  EXPECT_EQ(DetectModule("kvm_pvm").state, ModuleState::kBuiltin);
}

}  // namespace
}  // namespace pvm::host
