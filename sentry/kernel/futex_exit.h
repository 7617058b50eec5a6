// The futex side of a task's exit and execve, for the exit path to call
// (Linux's mm_release: robust list, PI locks, clear_child_tid). See
// FutexManager::ExitThread in futex.h.
#ifndef SENTRY_KERNEL_FUTEX_EXIT_H_
#define SENTRY_KERNEL_FUTEX_EXIT_H_

namespace sentry::kernel {

class Task;

// At thread exit, on the task's own thread, while its mm is still alive:
// marks the robust futexes it holds FUTEX_OWNER_DIED (waking a waiter), hands
// the PI locks it owns to their waiters, and, if `mm_shared` (another task
// still uses the mm: Linux's mm_users > 1), stores 0 at clear_child_tid and
// wakes a joiner. Clears the task's robust_list_head and clear_child_tid.
void ReleaseFutexesAtExit(Task& t, bool mm_shared);
// The same at execve, on the old mm before it is replaced; the TID stays
// usable as a PI owner.
void ReleaseFutexesAtExec(Task& t, bool mm_shared);

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_FUTEX_EXIT_H_
