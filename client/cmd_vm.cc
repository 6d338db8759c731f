// pvmctl vm ...
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "client/command.h"
#include "client/console_writer.h"
#include "client/cpu_list.h"
#include "client/format_text.h"

namespace pvm::ctl {
namespace {

constexpr absl::string_view kBuiltinImagePrefix = "builtin:";

struct VmCreateOptions {
  std::string name;
  std::optional<uint32_t> vcpus;       // unset: the daemon's default (1)
  std::optional<uint64_t> memory_mib;  // unset: the daemon's default
  std::string image;
  bool start = false;
  std::string cpus;  // a CPU list; empty: the daemon's pinning policy
};

struct VmConsoleOptions {
  std::string name;
  bool follow = false;
};

// The daemon opens image paths itself, from its own working directory; a path
// relative to the user's directory has to be made absolute here to mean what the
// user meant.
std::string ImageForDaemon(const std::string& image) {
  if (image.empty() || absl::StartsWith(image, kBuiltinImagePrefix)) return image;
  std::error_code error;
  const std::filesystem::path absolute = std::filesystem::absolute(image, error);
  return error ? image : absolute.string();
}

absl::StatusOr<v1::CreateVmRequest> MakeCreateVmRequest(const VmCreateOptions& options) {
  v1::CreateVmRequest request;
  request.set_name(options.name);
  if (options.vcpus) request.set_vcpus(*options.vcpus);
  if (options.memory_mib) request.set_memory_mib(*options.memory_mib);
  request.set_image(ImageForDaemon(options.image));
  request.set_start(options.start);
  if (!options.cpus.empty()) {
    absl::StatusOr<std::vector<uint32_t>> cpus = ParseCpuList(options.cpus);
    if (!cpus.ok()) return cpus.status();
    request.mutable_cpu_affinity()->Assign(cpus->begin(), cpus->end());
  }
  return request;
}

void PrintVm(CommandContext& context, const v1::Vm& vm) {
  PrintResult(
      context, [&] { return VmText(vm); }, [&] { return VmJson(vm); });
}

absl::Status RunVmCreate(CommandContext& context, const VmCreateOptions& options) {
  absl::StatusOr<v1::CreateVmRequest> request = MakeCreateVmRequest(options);
  if (!request.ok()) return request.status();
  absl::StatusOr<v1::Vm> vm = context.client.CreateVm(*request);
  if (!vm.ok()) return vm.status();
  PrintVm(context, *vm);
  return absl::OkStatus();
}

absl::Status RunVmList(CommandContext& context) {
  absl::StatusOr<v1::ListVmsResponse> list = context.client.ListVms();
  if (!list.ok()) return list.status();
  PrintResult(
      context, [&] { return VmListText(*list); }, [&] { return VmListJson(*list); });
  return absl::OkStatus();
}

absl::Status RunVmShow(CommandContext& context, const std::string& name) {
  absl::StatusOr<v1::Vm> vm = context.client.GetVm(name);
  if (!vm.ok()) return vm.status();
  PrintVm(context, *vm);
  return absl::OkStatus();
}

using VmTransition = absl::StatusOr<v1::Vm> (client::PvmClient::*)(absl::string_view);

absl::Status RunVmTransition(CommandContext& context, VmTransition transition,
                             const std::string& name) {
  absl::StatusOr<v1::Vm> vm = (context.client.*transition)(name);
  if (!vm.ok()) return vm.status();
  PrintVm(context, *vm);
  return absl::OkStatus();
}

absl::Status RunVmDelete(CommandContext& context, const std::string& name) {
  if (absl::Status status = context.client.DeleteVm(name); !status.ok()) return status;
  PrintResult(
      context, [&] { return VmDeletedText(name); }, [&] { return VmDeletedJson(name); });
  return absl::OkStatus();
}

// Raw bytes, whatever -o says: the console is the guest's output, not a result.
absl::Status RunVmConsole(CommandContext& context, const VmConsoleOptions& options) {
  ConsoleWriter writer(options.name, context.out, context.err);
  return context.client.StreamConsole(
      options.name, options.follow,
      [&writer](const v1::ConsoleChunk& chunk) { return writer.Write(chunk); });
}

void AddVmNameArgument(CLI::App* command, std::string& name) {
  command->add_option("NAME", name, "VM name")->required();
}

std::string CheckCpuList(const std::string& text) {
  absl::StatusOr<std::vector<uint32_t>> cpus = ParseCpuList(text);
  return cpus.ok() ? std::string() : std::string(cpus.status().message());
}

void AddVmCreate(CLI::App& vm, CommandAction& selected) {
  auto options = std::make_shared<VmCreateOptions>();
  CLI::App* create = vm.add_subcommand("create", "Create a VM from a guest image");
  AddVmNameArgument(create, options->name);
  create->add_option("--vcpus", options->vcpus, "Number of vCPUs (default 1)")
      ->check(CLI::PositiveNumber);
  create->add_option("--memory", options->memory_mib, "Guest memory in MiB (default: pvmd's)")
      ->type_name("MIB")
      ->check(CLI::PositiveNumber);
  create->add_option("--image", options->image, "ELF64 guest image, or a built-in guest")
      ->type_name("PATH|builtin:NAME");
  create->add_flag("--start", options->start, "Start the VM once it is created");
  create->add_option("--cpus", options->cpus, "Pin the vCPU threads to these host CPUs, e.g. 0-3,6")
      ->type_name("LIST")
      ->check(CheckCpuList);
  create->callback([options, &selected] {
    selected = [options](CommandContext& context) { return RunVmCreate(context, *options); };
  });
}

void AddVmCommandWithName(CLI::App& vm, absl::string_view name, absl::string_view description,
                          std::function<absl::Status(CommandContext&, const std::string&)> run,
                          CommandAction& selected) {
  auto vm_name = std::make_shared<std::string>();
  CLI::App* command = vm.add_subcommand(std::string(name), std::string(description));
  AddVmNameArgument(command, *vm_name);
  command->callback([vm_name, run = std::move(run), &selected] {
    selected = [vm_name, run](CommandContext& context) { return run(context, *vm_name); };
  });
}

void AddVmTransition(CLI::App& vm, absl::string_view name, absl::string_view description,
                     VmTransition transition, CommandAction& selected) {
  AddVmCommandWithName(
      vm, name, description,
      [transition](CommandContext& context, const std::string& vm_name) {
        return RunVmTransition(context, transition, vm_name);
      },
      selected);
}

void AddVmConsole(CLI::App& vm, CommandAction& selected) {
  auto options = std::make_shared<VmConsoleOptions>();
  CLI::App* console = vm.add_subcommand("console", "Write the guest's console output to stdout");
  AddVmNameArgument(console, options->name);
  console->add_flag("-f,--follow", options->follow,
                    "Keep streaming until the VM is deleted or Ctrl-C");
  console->callback([options, &selected] {
    selected = [options](CommandContext& context) { return RunVmConsole(context, *options); };
  });
}

}  // namespace

void AddVmCommands(CLI::App& parent, CommandAction& selected) {
  CLI::App* vm = parent.add_subcommand("vm", "Create, run and inspect VMs");
  vm->require_subcommand(1);

  AddVmCreate(*vm, selected);
  vm->add_subcommand("list", "List the VMs")->callback([&selected] { selected = RunVmList; });
  AddVmCommandWithName(*vm, "show", "Show a VM", RunVmShow, selected);
  AddVmTransition(*vm, "start", "Start a created VM", &client::PvmClient::StartVm, selected);
  AddVmTransition(*vm, "pause", "Pause a running VM", &client::PvmClient::PauseVm, selected);
  AddVmTransition(*vm, "resume", "Resume a paused VM", &client::PvmClient::ResumeVm, selected);
  AddVmCommandWithName(*vm, "delete", "Stop a VM and release everything it holds", RunVmDelete,
                       selected);
  AddVmConsole(*vm, selected);
}

}  // namespace pvm::ctl
