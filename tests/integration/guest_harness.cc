#include "tests/integration/guest_harness.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"

namespace pvm::testing {

void WaitUntil(const std::function<bool()>& pred, const std::string& what) {
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (!pred()) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "timed out waiting for " << what;
    std::this_thread::yield();
  }
}

std::string GuestDir() { return PVM_GUEST_BUILD_DIR; }

std::string WaitForConsole(vmm::Vm& vm, const std::string& needle) {
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  std::string seen;
  uint64_t offset = 0;
  while (true) {
    vmm::ConsoleRead read = vm.console().ReadFrom(offset);
    seen += read.data;
    offset = read.offset + read.data.size();
    if (seen.find(needle) != std::string::npos) {
      return seen;
    }
    const vmm::VmState state = vm.state();
    const bool ended = state == vmm::VmState::kStopped || state == vmm::VmState::kFailed;
    if (ended && vm.console().total_written() == offset) {
      return seen;
    }
    if (!vm.console().WaitBeyond(offset, deadline) &&
        std::chrono::steady_clock::now() >= deadline) {
      return seen;
    }
  }
}

vmm::VmState WaitForVmState(vmm::Vm& vm, vmm::VmState state) {
  return vm.WaitForState([state](vmm::VmState s) { return s == state; },
                         std::chrono::steady_clock::now() + kPatience);
}

absl::StatusOr<uint64_t> ReadGuestU64(vmm::Vm& vm, const std::string& symbol, uint64_t index) {
  std::optional<vmm::GuestSymbol> found = vm.image().FindSymbol(symbol);
  if (!found) {
    return absl::NotFoundError(absl::StrCat("guest has no symbol ", symbol));
  }
  // The built-in guests run on the identity map: GVA == GPA.
  return vm.memory().ReadObject<uint64_t>(found->address + index * sizeof(uint64_t));
}

int CountOpenFds() {
  int count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++count;
  }
  return count;
}

int CountThreads() {
  int count = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator("/proc/self/task")) {
    ++count;
  }
  return count;
}

namespace {

std::vector<std::filesystem::path> ThreadDirsNamed(const std::string& prefix) {
  std::vector<std::filesystem::path> dirs;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(entry.path() / "comm");
    std::string name;
    std::getline(comm, name);
    if (name.rfind(prefix, 0) == 0) {
      dirs.push_back(entry.path());
    }
  }
  return dirs;
}

}  // namespace

int CountThreadsNamed(const std::string& prefix) {
  return static_cast<int>(ThreadDirsNamed(prefix).size());
}

std::vector<std::string> CpusAllowedOfThreadsNamed(const std::string& prefix) {
  std::vector<std::string> result;
  for (const std::filesystem::path& dir : ThreadDirsNamed(prefix)) {
    std::ifstream status(dir / "status");
    for (std::string line; std::getline(status, line);) {
      constexpr char kKey[] = "Cpus_allowed_list:";
      if (line.rfind(kKey, 0) == 0) {
        result.push_back(line.substr(line.find_first_not_of(" \t", sizeof(kKey) - 1)));
      }
    }
  }
  return result;
}

}  // namespace pvm::testing
