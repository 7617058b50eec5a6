#include "platform/ptrace/stub_factory.h"

#include <pthread.h>
#include <signal.h>

#include <utility>

#include "absl/synchronization/notification.h"
#include "platform/ptrace/ptrace_syscalls.h"

namespace platform::ptrace {

absl::StatusOr<std::unique_ptr<StubFactory>> StubFactory::Start() {
  std::unique_ptr<StubFactory> f(new StubFactory());
  absl::Notification started;
  StubFactory* raw = f.get();
  f->thread_ = std::thread([raw, &started] {
    // Host signals meant for the Sentry never land here; stub creation blocks them
    // around its clone anyway.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, nullptr);
    pthread_setname_np(pthread_self(), "ptrace-factory");
    raw->tid_ = CurrentTid();
    started.Notify();
    raw->Loop();
  });
  started.WaitForNotification();
  return f;
}

StubFactory::~StubFactory() {
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
  }
  thread_.join();
}

absl::Status StubFactory::Run(absl::FunctionRef<absl::Status()> fn) {
  if (CurrentTid() == tid_) return fn();
  Request r{fn, absl::OkStatus(), false};
  absl::MutexLock l(&mu_);
  queue_.push_back(&r);
  mu_.Await(absl::Condition(&r.done));
  return std::move(r.result);
}

void StubFactory::Loop() {
  for (;;) {
    Request* r;
    {
      absl::MutexLock l(&mu_);
      mu_.Await(absl::Condition(this, &StubFactory::HasWork));
      if (queue_.empty()) return;  // stop_, and nothing left to do.
      r = queue_.front();
      queue_.pop_front();
    }
    absl::Status s = r->fn();
    absl::MutexLock l(&mu_);
    r->result = std::move(s);
    r->done = true;
  }
}

}  // namespace platform::ptrace
