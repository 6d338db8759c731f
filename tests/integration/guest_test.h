// A gtest fixture for tests that run built-in guests on the real /dev/kvm: KVM
// opened, a VM registry over the build's guest images.
#ifndef PVMD_TESTS_INTEGRATION_GUEST_TEST_H_
#define PVMD_TESTS_INTEGRATION_GUEST_TEST_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>

#include "daemon/vmm/kvm.h"
#include "daemon/vmm/vm.h"
#include "daemon/vmm/vm_registry.h"

namespace pvm::testing {

class GuestTest : public ::testing::Test {
 protected:
  // Skips without /dev/kvm, or fails under CI=true.
  void SetUp() override;
  // The registry's limits; a test overrides this to test them.
  virtual vmm::VmLimits Limits() const { return {}; }

  // A VM of builtin:`guest`, created (CreateGuest) or started too (StartGuest);
  // nullptr after a test failure when that cannot be done.
  std::shared_ptr<vmm::Vm> CreateGuest(const std::string& name, const std::string& guest,
                                       uint32_t vcpus = 1);
  std::shared_ptr<vmm::Vm> StartGuest(const std::string& name, const std::string& guest,
                                      uint32_t vcpus = 1);

  std::unique_ptr<vmm::Kvm> kvm_;
  std::unique_ptr<vmm::VmRegistry> registry_;
};

}  // namespace pvm::testing

#endif  // PVMD_TESTS_INTEGRATION_GUEST_TEST_H_
