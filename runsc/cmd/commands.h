// The subcommands: each parses its own arguments and calls the library.
#ifndef RUNSC_CMD_COMMANDS_H_
#define RUNSC_CMD_COMMANDS_H_

#include "runsc/flags.h"

namespace runsc {

int DoCommand(const CommandLine& cl);
int SyscallsCommand(const CommandLine& cl);
int GoferCommand(const CommandLine& cl);

}  // namespace runsc

#endif  // RUNSC_CMD_COMMANDS_H_
