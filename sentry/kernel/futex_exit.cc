#include "sentry/kernel/futex_exit.h"

#include "sentry/kernel/futex.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {

void ReleaseFutexesAtExit(Task& t, bool mm_shared) {
  t.kernel().futex().ExitThread(t.mm(), t.tid(), t.robust_list_head,
                                mm_shared ? t.clear_child_tid : 0);
  t.robust_list_head = 0;
  t.robust_list_len = 0;
  t.clear_child_tid = 0;
}

void ReleaseFutexesAtExec(Task& t, bool mm_shared) {
  t.kernel().futex().ExecThread(t.mm(), t.tid(), t.robust_list_head,
                                mm_shared ? t.clear_child_tid : 0);
  t.robust_list_head = 0;
  t.robust_list_len = 0;
  t.clear_child_tid = 0;
}

}  // namespace sentry::kernel
