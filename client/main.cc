// pvmctl: the command-line client of pvmd. Everything but process set-up lives in
// cli.cc, so that tests can run pvmctl in-process.
#include <iostream>

#include "client/cli.h"
#include "client/interrupt_watcher.h"

int main(int argc, char** argv) {
  // Before anything starts a thread (see InterruptWatcher).
  pvm::ctl::InterruptWatcher interrupts;
  try {
    return pvm::ctl::RunPvmctl(argc, argv,
                               {.out = std::cout, .err = std::cerr, .stop = interrupts.token()});
  } catch (const std::exception& error) {
    // Nothing should get here: parse errors are handled in RunPvmctl. This is the
    // edge where an escaped exception still becomes an error message, not abort().
    std::cerr << "pvmctl: internal error: " << error.what() << "\n";
    return 1;
  }
}
