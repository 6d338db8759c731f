#include "tests/integration/guest_test.h"

#include "absl/strings/str_cat.h"
#include "tests/integration/guest_harness.h"
#include "tests/support/kvm_required.h"

namespace pvm::testing {

void GuestTest::SetUp() {
  PVM_REQUIRE_KVM();
  absl::StatusOr<vmm::Kvm> kvm = vmm::Kvm::Open();
  ASSERT_TRUE(kvm.ok()) << kvm.status();
  kvm_ = std::make_unique<vmm::Kvm>(*std::move(kvm));
  registry_ = std::make_unique<vmm::VmRegistry>(*kvm_, vmm::ImageCatalog(GuestDir()), Limits());
}

std::shared_ptr<vmm::Vm> GuestTest::CreateGuest(const std::string& name, const std::string& guest,
                                                uint32_t vcpus) {
  vmm::VmRequestSpec spec;
  spec.name = name;
  spec.vcpus = vcpus;
  spec.image = absl::StrCat("builtin:", guest);
  absl::StatusOr<std::shared_ptr<vmm::Vm>> vm = registry_->Create(spec);
  EXPECT_TRUE(vm.ok()) << vm.status();
  return vm.ok() ? *vm : nullptr;
}

std::shared_ptr<vmm::Vm> GuestTest::StartGuest(const std::string& name, const std::string& guest,
                                               uint32_t vcpus) {
  std::shared_ptr<vmm::Vm> vm = CreateGuest(name, guest, vcpus);
  if (vm != nullptr) {
    EXPECT_TRUE(vm->Start().ok());
  }
  return vm;
}

}  // namespace pvm::testing
