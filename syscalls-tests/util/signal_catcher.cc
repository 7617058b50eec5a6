#include "syscalls-tests/util/signal_catcher.h"

#include <signal.h>
#include <unistd.h>

namespace syscalls_test {
namespace {

volatile sig_atomic_t g_count;
volatile sig_atomic_t g_code;
volatile sig_atomic_t g_value;

void Record(int, siginfo_t* info, void*) {
  g_count = g_count + 1;
  g_code = info->si_code;
  g_value = info->si_value.sival_int;
}

}  // namespace

SignalCatcher::SignalCatcher(int sig, int flags) : sig_(sig) {
  g_count = 0;
  g_code = 0;
  g_value = -1;
  struct sigaction sa = {};
  sa.sa_sigaction = Record;
  sa.sa_flags = flags | SA_SIGINFO;
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, sig);
  action_set_ = sigaction(sig, &sa, &old_action_) == 0;
  mask_set_ = sigprocmask(SIG_UNBLOCK, &s, &old_mask_) == 0;
}

SignalCatcher::~SignalCatcher() {
  if (mask_set_) sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
  if (action_set_) sigaction(sig_, &old_action_, nullptr);
}

int SignalCatcher::count() { return g_count; }
int SignalCatcher::code() { return g_code; }
int SignalCatcher::value() { return g_value; }

bool SignalCatcher::WaitFor(int n, int ms) {
  for (int i = 0; i < ms && g_count < n; ++i) usleep(1000);
  return g_count >= n;
}

}  // namespace syscalls_test
