// "#!" scripts (fs/binfmt_script.c): the interpreter line, and following a
// chain of them to the ELF file that is loaded. One piece for execve(2) and
// for the sandbox's first process.
#ifndef SENTRY_LOADER_SCRIPT_H_
#define SENTRY_LOADER_SCRIPT_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sentry/base/errno.h"
#include "sentry/loader/loader.h"

namespace sentry::loader {

// A "#!" line: the interpreter and its one optional argument (everything
// after the interpreter's name, blanks trimmed at both ends).
struct Shebang {
  std::string interp;
  std::optional<std::string> arg;
};

// Reads the "#!" line at the start of `f`: nullopt when the file does not start
// with "#!"; ENOEXEC for an empty line, or for an interpreter name that does not
// end within BINPRM_BUF_SIZE (256) bytes (Linux 5.1+); the reader's errno.
ErrnoOr<std::optional<Shebang>> ReadShebang(ExecutableFile& f);

using OpenExecutableFn =
    std::function<ErrnoOr<std::unique_ptr<ExecutableFile>>(const std::string& path)>;

// Follows "#!" lines from `first` (whose name, as exec was given it, is
// `filename`) up to 5 interpreters deep (ELOOP beyond, as Linux's
// exec_binprm), opening each interpreter with `open`. Each step replaces
// argv[0] with the interpreter, its argument and the script's name, as Linux
// does. Returns the interpreter that is to be loaded instead of `first`, or
// null when `first` is no script. The loader keeps `filename` (AT_EXECFN and
// the task's name are the script's, as in Linux).
ErrnoOr<std::unique_ptr<ExecutableFile>> FollowScripts(ExecutableFile& first,
                                                       const std::string& filename,
                                                       std::vector<std::string>* argv,
                                                       const OpenExecutableFn& open);

}  // namespace sentry::loader

#endif  // SENTRY_LOADER_SCRIPT_H_
