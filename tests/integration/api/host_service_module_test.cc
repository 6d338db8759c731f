// GetHostInfo reports what pvmd found about the module and what it did about it.
#include <gtest/gtest.h>

#include "daemon/api/host_service.h"
#include "daemon/host/module_loader.h"
#include "tests/integration/guest_test.h"

namespace pvm::testing {
namespace {

class HostServiceModuleTest : public GuestTest {};

TEST_F(HostServiceModuleTest, GetHostInfoReportsTheModuleAction) {
  host::ModuleStatus module;
  module.name = "kvm_pvm";
  module.state = host::ModuleState::kLoaded;
  module.detail = "/sys/module/kvm_pvm/initstate says 'live'";
  module.action = "loaded with parameters 'pvm_debug=1'";
  module.loaded_by_pvmd = true;
  module.requested_parameters = "pvm_debug=1";
  module.parameters = {{"pvm_debug", "1"}};
  api::HostServiceImpl service(*kvm_, module);
  pvm::v1::HostInfo info;
  ASSERT_TRUE(service.GetHostInfo(nullptr, nullptr, &info).ok());
  EXPECT_EQ(info.module().name(), "kvm_pvm");
  EXPECT_EQ(info.module().state(), pvm::v1::MODULE_STATE_LOADED);
  EXPECT_EQ(info.module().action(), "loaded with parameters 'pvm_debug=1'");
  EXPECT_TRUE(info.module().loaded_by_pvmd());
  EXPECT_EQ(info.module().requested_parameters(), "pvm_debug=1");
  ASSERT_EQ(info.module().parameters_size(), 1);
  EXPECT_EQ(info.module().parameters(0).value(), "1");
}

TEST_F(HostServiceModuleTest, OnThisHostTheBuiltInModuleIsReportedAsLeftAlone) {
  // What pvmd's start does here (kvm-pvm is built in: DESIGN.md).
  const host::ModuleStatus module = host::EnsureModule(
      {}, [](const std::string&, const std::string&) { return absl::InternalError("no insert"); });
  if (module.state != host::ModuleState::kBuiltin) {
    GTEST_SKIP() << "kvm_pvm is " << host::ModuleStateName(module.state) << " here";
  }
  api::HostServiceImpl service(*kvm_, module);
  pvm::v1::HostInfo info;
  ASSERT_TRUE(service.GetHostInfo(nullptr, nullptr, &info).ok());
  EXPECT_EQ(info.module().state(), pvm::v1::MODULE_STATE_BUILTIN);
  EXPECT_EQ(info.module().action(), "built in, nothing to do");
  EXPECT_FALSE(info.module().loaded_by_pvmd());
}

}  // namespace
}  // namespace pvm::testing
