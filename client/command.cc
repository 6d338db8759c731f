#include "client/command.h"

namespace pvm::ctl {

void PrintResult(CommandContext& context, absl::FunctionRef<std::string()> text,
                 absl::FunctionRef<Json()> json) {
  switch (context.output) {
    case OutputFormat::kText:
      context.out << text();
      break;
    case OutputFormat::kJson:
      context.out << DumpJson(json());
      break;
  }
  context.out.flush();
}

}  // namespace pvm::ctl
