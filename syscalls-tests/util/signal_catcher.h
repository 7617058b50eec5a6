// Catches one signal for the scope of a test and records what arrived: the
// handler a test installs to see that a timer fired, or to interrupt a
// blocking call and count that it ran.
//
//   SignalCatcher c(SIGALRM);              // SA_RESTART; 0 for no restart
//   ASSERT_TRUE(c.ok());
//   ... arm a timer ...
//   EXPECT_TRUE(SignalCatcher::WaitFor(1, 1000));
//   EXPECT_EQ(SignalCatcher::code(), SI_TIMER);
//
// A signal handler cannot carry state of its own, so the record is
// process-wide: one SignalCatcher at a time.
#ifndef SYSCALLS_TESTS_UTIL_SIGNAL_CATCHER_H_
#define SYSCALLS_TESTS_UTIL_SIGNAL_CATCHER_H_

#include <signal.h>

namespace syscalls_test {

class SignalCatcher {
 public:
  // Installs the recording handler for `sig` with `flags` (SA_SIGINFO is
  // always added), unblocks `sig` in the calling thread (threads created
  // afterwards inherit that), and clears the record.
  explicit SignalCatcher(int sig, int flags = SA_RESTART);
  // Puts the old action and the calling thread's old mask back.
  ~SignalCatcher();
  SignalCatcher(const SignalCatcher&) = delete;
  SignalCatcher& operator=(const SignalCatcher&) = delete;

  // Whether sigaction and sigprocmask succeeded.
  bool ok() const { return action_set_ && mask_set_; }

  // How many times the handler ran since the construction.
  static int count();
  // si_code and si_value.sival_int of the latest delivery (0 and -1 before).
  static int code();
  static int value();
  // Sleeps in 1 ms steps until count() >= n or `ms` milliseconds passed;
  // returns count() >= n.
  static bool WaitFor(int n, int ms);

 private:
  int sig_;
  bool action_set_;
  bool mask_set_;
  struct sigaction old_action_;
  sigset_t old_mask_;
};

}  // namespace syscalls_test

#endif  // SYSCALLS_TESTS_UTIL_SIGNAL_CATCHER_H_
