// The factory thread of the ptrace platform: one host thread, owned by the
// platform, that creates every stub process and so traces each stub's first thread.
// Only a tracee's tracer may inject syscalls into it, so everything done through a
// stub's first thread (creating the stub, cloning a stub thread, an address-space
// change from a host thread that has no stub thread in that address space,
// destroying the stub) runs here, one request at a time. It never runs guest code.
// See platform/README.md.
//
// Lock order: StubFactory::mu_ is a leaf (requests run without it).
#ifndef PLATFORM_PTRACE_STUB_FACTORY_H_
#define PLATFORM_PTRACE_STUB_FACTORY_H_

#include <sys/types.h>

#include <deque>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace platform::ptrace {

class StubFactory {
 public:
  // Starts the thread (all signals blocked on it).
  static absl::StatusOr<std::unique_ptr<StubFactory>> Start();
  // Stops and joins the thread. Its exit kills every stub it still traces
  // (PTRACE_O_EXITKILL, PR_SET_PDEATHSIG).
  ~StubFactory();

  StubFactory(const StubFactory&) = delete;
  StubFactory& operator=(const StubFactory&) = delete;

  // Runs `fn` on the factory thread and waits for it (on the factory thread itself,
  // runs it at once). No allocation: the request lives on the caller's stack.
  absl::Status Run(absl::FunctionRef<absl::Status()> fn);

  pid_t tid() const { return tid_; }

 private:
  struct Request {
    absl::FunctionRef<absl::Status()> fn;
    absl::Status result;
    bool done = false;
  };

  StubFactory() = default;
  void Loop();
  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || !queue_.empty(); }

  absl::Mutex mu_;
  std::deque<Request*> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  pid_t tid_ = 0;
  std::thread thread_;
};

}  // namespace platform::ptrace

#endif  // PLATFORM_PTRACE_STUB_FACTORY_H_
