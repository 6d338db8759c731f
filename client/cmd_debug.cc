// pvmctl debug ...
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "client/command.h"
#include "client/debug_args.h"
#include "client/format_debug.h"

namespace pvm::ctl {
namespace {

struct EnableOptions {
  std::string name;
  bool trace = false;
};

struct BreakAddOptions {
  std::string name;
  std::string address;  // 0x-hex or decimal; empty: --symbol
  std::string symbol;
  std::string kind = "exec";
  std::optional<uint32_t> length;  // unset: the daemon's default (1)
  bool trace = false;
};

struct BreakRemoveOptions {
  std::string name;
  uint32_t id = 0;
};

struct EventsOptions {
  std::string name;
  bool follow = false;
  uint64_t since = 0;
};

struct StepOptions {
  std::string name;
  uint32_t vcpu = 0;
  uint32_t count = 1;
};

struct RegsOptions {
  std::string name;
  uint32_t vcpu = 0;
};

struct MemOptions {
  std::string name;
  std::string address;
  std::string length;
  bool physical = false;
  uint32_t vcpu = 0;
};

// The largest read the daemon serves in one call (debug.proto).
constexpr uint64_t kMaxMemoryRead = 1 << 20;

void PrintState(CommandContext& context, const v1::DebugState& state) {
  PrintResult(
      context, [&] { return DebugStateText(state); }, [&] { return DebugStateJson(state); });
}

absl::Status PrintStateOf(CommandContext& context, absl::StatusOr<v1::DebugState> state) {
  if (!state.ok()) return state.status();
  PrintState(context, *state);
  return absl::OkStatus();
}

absl::Status RunEnable(CommandContext& context, const std::string& name, bool enabled, bool trace) {
  v1::SetGuestDebugRequest request;
  request.set_name(name);
  request.set_enabled(enabled);
  request.set_stop_mode(trace ? v1::STOP_MODE_TRACE : v1::STOP_MODE_ALL_STOP);
  return PrintStateOf(context, context.client.SetGuestDebug(request));
}

absl::StatusOr<v1::AddBreakpointRequest> MakeAddBreakpointRequest(const BreakAddOptions& options) {
  v1::AddBreakpointRequest request;
  request.set_name(options.name);
  if (!options.symbol.empty()) {
    request.set_symbol(options.symbol);
  } else {
    absl::StatusOr<uint64_t> address = ParseGuestAddress(options.address);
    if (!address.ok()) return address.status();
    request.set_address(*address);
  }
  absl::StatusOr<v1::BreakpointKind> kind = ParseBreakpointKind(options.kind);
  if (!kind.ok()) return kind.status();
  request.set_kind(*kind);
  // Any length goes to the daemon, whose message says why 3 or 16 cannot work.
  if (options.length) request.set_length(*options.length);
  request.set_trace(options.trace);
  return request;
}

absl::Status RunBreakAdd(CommandContext& context, const BreakAddOptions& options) {
  absl::StatusOr<v1::AddBreakpointRequest> request = MakeAddBreakpointRequest(options);
  if (!request.ok()) return request.status();
  absl::StatusOr<v1::Breakpoint> breakpoint = context.client.AddBreakpoint(*request);
  if (!breakpoint.ok()) return breakpoint.status();
  PrintResult(
      context, [&] { return BreakpointText(*breakpoint); },
      [&] { return BreakpointJson(*breakpoint); });
  return absl::OkStatus();
}

absl::Status RunBreakList(CommandContext& context, const std::string& name) {
  absl::StatusOr<v1::ListBreakpointsResponse> list = context.client.ListBreakpoints(name);
  if (!list.ok()) return list.status();
  PrintResult(
      context, [&] { return BreakpointListText(*list); },
      [&] { return BreakpointListJson(*list); });
  return absl::OkStatus();
}

absl::Status RunBreakRemove(CommandContext& context, const BreakRemoveOptions& options) {
  if (absl::Status s = context.client.RemoveBreakpoint(options.name, options.id); !s.ok()) {
    return s;
  }
  PrintResult(
      context, [&] { return BreakpointRemovedText(options.name, options.id); },
      [&] { return BreakpointRemovedJson(options.name, options.id); });
  return absl::OkStatus();
}

// Text: one line per record. JSON: one object per line (JSON Lines), so a script
// can process a following stream as it comes.
absl::Status RunEvents(CommandContext& context, const EventsOptions& options) {
  v1::StreamEventsRequest request;
  request.set_name(options.name);
  request.set_follow(options.follow);
  request.set_since(options.since);
  uint64_t records = 0;
  absl::Status status =
      context.client.StreamEvents(request, [&](const v1::EventBatch& batch) -> absl::Status {
        for (const v1::EventRecord& record : batch.records()) {
          if (context.output == OutputFormat::kJson) {
            const Json json = EventRecordJson(record);
            if (!json.is_null()) context.out << DumpJsonLine(json);
          } else {
            context.out << EventRecordText(record);
          }
          ++records;
        }
        context.out.flush();
        if (!context.out) return absl::UnavailableError("cannot write the events to stdout");
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  if (records == 0 && !options.follow && context.output == OutputFormat::kText) {
    context.out << "no events\n";
  }
  return absl::OkStatus();
}

absl::Status RunStep(CommandContext& context, const StepOptions& options) {
  v1::StepRequest request;
  request.set_name(options.name);
  request.set_vcpu(options.vcpu);
  request.set_count(options.count);
  absl::StatusOr<v1::StepResponse> step = context.client.Step(request);
  if (!step.ok()) return step.status();
  PrintResult(
      context, [&] { return StepText(*step); }, [&] { return StepJson(*step); });
  return absl::OkStatus();
}

absl::Status RunRegs(CommandContext& context, const RegsOptions& options) {
  absl::StatusOr<v1::Registers> registers = context.client.GetRegisters(options.name, options.vcpu);
  if (!registers.ok()) return registers.status();
  PrintResult(
      context, [&] { return RegistersText(*registers); },
      [&] { return RegistersJson(*registers); });
  return absl::OkStatus();
}

absl::Status RunMem(CommandContext& context, const MemOptions& options) {
  absl::StatusOr<uint64_t> address = ParseGuestAddress(options.address);
  if (!address.ok()) return address.status();
  absl::StatusOr<uint64_t> length = ParseGuestAddress(options.length);
  if (!length.ok()) return length.status();
  v1::ReadMemoryRequest request;
  request.set_name(options.name);
  request.set_address(*address);
  // Clamped just past the limit: the daemon refuses it and says what the limit is.
  request.set_length(static_cast<uint32_t>(std::min(*length, kMaxMemoryRead + 1)));
  request.set_space(options.physical ? v1::ADDRESS_SPACE_PHYSICAL : v1::ADDRESS_SPACE_VIRTUAL);
  request.set_vcpu(options.vcpu);
  absl::StatusOr<v1::MemoryData> memory = context.client.ReadMemory(request);
  if (!memory.ok()) return memory.status();
  PrintResult(
      context, [&] { return MemoryText(*memory); }, [&] { return MemoryJson(*memory); });
  return absl::OkStatus();
}

// --- argv ---------------------------------------------------------------------------

void AddNameArgument(CLI::App* command, std::string& name) {
  command->add_option("NAME", name, "VM name")->required();
}

// A command whose action needs only the VM's name.
void AddNamedCommand(CLI::App& group, const std::string& name, const std::string& description,
                     std::function<absl::Status(CommandContext&, const std::string&)> run,
                     CommandAction& selected) {
  auto vm_name = std::make_shared<std::string>();
  CLI::App* command = group.add_subcommand(name, description);
  AddNameArgument(command, *vm_name);
  command->callback([vm_name, run = std::move(run), &selected] {
    selected = [vm_name, run](CommandContext& context) { return run(context, *vm_name); };
  });
}

// Binds a parsed options struct to the action that runs on it.
template <typename Options>
void SelectOnCallback(CLI::App* command, std::shared_ptr<Options> options,
                      absl::Status (*run)(CommandContext&, const Options&),
                      CommandAction& selected) {
  command->callback([options, run, &selected] {
    selected = [options, run](CommandContext& context) { return run(context, *options); };
  });
}

void AddEnable(CLI::App& debug, CommandAction& selected) {
  auto options = std::make_shared<EnableOptions>();
  CLI::App* enable = debug.add_subcommand("enable", "Turn guest debugging on");
  AddNameArgument(enable, options->name);
  enable->add_flag("--trace", options->trace,
                   "Trace mode: report every event and resume at once (default: all-stop)");
  enable->callback([options, &selected] {
    selected = [options](CommandContext& context) {
      return RunEnable(context, options->name, /*enabled=*/true, options->trace);
    };
  });
}

void AddBreak(CLI::App& debug, CommandAction& selected) {
  CLI::App* group = debug.add_subcommand("break", "Breakpoints and watchpoints");
  group->require_subcommand(1);

  auto add_options = std::make_shared<BreakAddOptions>();
  CLI::App* add = group->add_subcommand("add", "Set a breakpoint or watchpoint");
  AddNameArgument(add, add_options->name);
  CLI::Option* addr = add->add_option("--addr", add_options->address, "Guest-virtual address")
                          ->type_name("ADDR")
                          ->check(CheckGuestAddress);
  CLI::Option* symbol =
      add->add_option("--symbol", add_options->symbol, "A symbol of the guest image, e.g. main+0x4")
          ->type_name("SYM");
  addr->excludes(symbol);
  add->add_option("--kind", add_options->kind, "exec, write, rw (read/write) or sw (INT3)")
      ->type_name("KIND")
      ->check(CheckBreakpointKind)
      ->capture_default_str();
  add->add_option("--len", add_options->length, "Length in bytes: 1, 2, 4 or 8 (default 1)")
      ->type_name("N");
  add->add_flag("--trace", add_options->trace, "Report each hit and resume at once");
  add->callback([add_options, addr, symbol, &selected] {
    if (addr->count() == 0 && symbol->count() == 0) {
      throw CLI::RequiredError("--addr or --symbol");
    }
    selected = [add_options](CommandContext& context) {
      return RunBreakAdd(context, *add_options);
    };
  });

  AddNamedCommand(*group, "list", "List the breakpoints", RunBreakList, selected);

  auto remove_options = std::make_shared<BreakRemoveOptions>();
  CLI::App* remove = group->add_subcommand("remove", "Remove a breakpoint");
  AddNameArgument(remove, remove_options->name);
  remove->add_option("ID", remove_options->id, "Breakpoint id (from break add or list)")
      ->required();
  SelectOnCallback(remove, remove_options, RunBreakRemove, selected);
}

void AddEvents(CLI::App& debug, CommandAction& selected) {
  auto options = std::make_shared<EventsOptions>();
  CLI::App* events = debug.add_subcommand("events", "Print the debug events of a VM");
  AddNameArgument(events, options->name);
  events->add_flag("-f,--follow", options->follow, "Keep streaming until the VM goes or Ctrl-C");
  events->add_option("--since", options->since, "First event sequence wanted (default: oldest)")
      ->type_name("SEQ")
      ->check(CLI::NonNegativeNumber);
  SelectOnCallback(events, options, RunEvents, selected);
}

void AddStep(CLI::App& debug, CommandAction& selected) {
  auto options = std::make_shared<StepOptions>();
  CLI::App* step = debug.add_subcommand("step", "Single-step a stopped vCPU");
  AddNameArgument(step, options->name);
  step->add_option("--vcpu", options->vcpu, "vCPU id")->capture_default_str();
  step->add_option("--count", options->count, "Instructions to step")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  SelectOnCallback(step, options, RunStep, selected);
}

void AddRegs(CLI::App& debug, CommandAction& selected) {
  auto options = std::make_shared<RegsOptions>();
  CLI::App* regs = debug.add_subcommand("regs", "Show the registers of a stopped vCPU");
  AddNameArgument(regs, options->name);
  regs->add_option("--vcpu", options->vcpu, "vCPU id")->capture_default_str();
  SelectOnCallback(regs, options, RunRegs, selected);
}

void AddMem(CLI::App& debug, CommandAction& selected) {
  auto options = std::make_shared<MemOptions>();
  CLI::App* mem = debug.add_subcommand("mem", "Hex dump of guest memory");
  AddNameArgument(mem, options->name);
  mem->add_option("ADDR", options->address, "Guest address, 0x-hex or decimal")
      ->required()
      ->check(CheckGuestAddress);
  mem->add_option("LEN", options->length, "Bytes to read (at most 1 MiB)")
      ->required()
      ->check(CheckGuestAddress);
  mem->add_flag("--phys", options->physical, "ADDR is guest-physical");
  mem->add_option("--vcpu", options->vcpu, "vCPU whose page tables translate ADDR")
      ->capture_default_str();
  SelectOnCallback(mem, options, RunMem, selected);
}

}  // namespace

void AddDebugCommands(CLI::App& parent, CommandAction& selected) {
  CLI::App* debug = parent.add_subcommand("debug", "Debug a guest: breakpoints, steps, events");
  debug->require_subcommand(1);

  AddEnable(*debug, selected);
  AddNamedCommand(
      *debug, "disable", "Turn guest debugging off: removes every breakpoint, resumes the VM",
      [](CommandContext& context, const std::string& name) {
        return RunEnable(context, name, /*enabled=*/false, /*trace=*/false);
      },
      selected);
  AddNamedCommand(
      *debug, "status", "Show the debug state: slots, DR7, stopped vCPUs",
      [](CommandContext& context, const std::string& name) {
        return PrintStateOf(context, context.client.GetDebugState(name));
      },
      selected);
  AddBreak(*debug, selected);
  AddEvents(*debug, selected);
  AddNamedCommand(
      *debug, "continue", "Resume every vCPU the debugger stopped",
      [](CommandContext& context, const std::string& name) {
        return PrintStateOf(context, context.client.Continue(name));
      },
      selected);
  AddStep(*debug, selected);
  AddNamedCommand(
      *debug, "interrupt", "Stop every vCPU of the VM",
      [](CommandContext& context, const std::string& name) {
        return PrintStateOf(context, context.client.Interrupt(name));
      },
      selected);
  AddRegs(*debug, selected);
  AddMem(*debug, selected);
  AddGdbCommand(*debug, selected);
}

}  // namespace pvm::ctl
