#include "platform/ptrace/stub_seccomp.h"

#include <linux/audit.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "platform/ptrace/stub.h"
#include "sentry/base/log.h"

namespace platform::ptrace {
namespace {

constexpr uint32_t kPageSize = 4096;
constexpr uint64_t kVsyscallPage = 0xffffffffff600000;

constexpr uint32_t Lo(uint64_t v) { return static_cast<uint32_t>(v); }
constexpr uint32_t Hi(uint64_t v) { return static_cast<uint32_t>(v >> 32); }

constexpr uint32_t kNr = offsetof(seccomp_data, nr);
constexpr uint32_t kArch = offsetof(seccomp_data, arch);
constexpr uint32_t kIpLo = offsetof(seccomp_data, instruction_pointer);
constexpr uint32_t kIpHi = kIpLo + 4;
constexpr uint32_t ArgLo(int i) { return offsetof(seccomp_data, args) + 8 * i; }
constexpr uint32_t ArgHi(int i) { return ArgLo(i) + 4; }

// A classic-BPF program with named forward jump targets, so the filter below reads
// as a list of rules rather than as hand-counted jump offsets.
class BpfBuilder {
 public:
  // A = the 32-bit word at `offset` in seccomp_data.
  void Load(uint32_t offset) { Emit(BPF_LD | BPF_W | BPF_ABS, offset); }
  // A -= k (unsigned, wraps).
  void Sub(uint32_t k) { Emit(BPF_ALU | BPF_SUB | BPF_K, k); }
  // if (A <op> k) goto if_true else goto if_false; "" is the next instruction.
  void Jump(uint16_t op, uint32_t k, std::string_view if_true, std::string_view if_false) {
    fixups_.push_back({prog_.size(), std::string(if_true), std::string(if_false)});
    Emit(BPF_JMP | op | BPF_K, k);
  }
  void Return(uint32_t action) { Emit(BPF_RET | BPF_K, action); }
  void Label(std::string_view name) { labels_.push_back({std::string(name), prog_.size()}); }

  std::vector<sock_filter> Finish() {
    for (const Fixup& f : fixups_) {
      prog_[f.at].jt = Offset(f.at, f.if_true);
      prog_[f.at].jf = Offset(f.at, f.if_false);
    }
    return std::move(prog_);
  }

 private:
  struct Fixup {
    size_t at;
    std::string if_true, if_false;
  };
  void Emit(uint16_t code, uint32_t k) { prog_.push_back(sock_filter{code, 0, 0, k}); }
  uint8_t Offset(size_t from, const std::string& label) const {
    if (label.empty()) return 0;
    for (const auto& [name, at] : labels_) {
      if (name == label) {
        SCHECK_MSG(at > from && at - from - 1 < 256, "bad BPF jump to %s", label);
        return static_cast<uint8_t>(at - from - 1);
      }
    }
    SCHECK_MSG(false, "unknown BPF label %s", label);
    return 0;
  }

  std::vector<sock_filter> prog_;
  std::vector<Fixup> fixups_;
  std::vector<std::pair<std::string, size_t>> labels_;
};

}  // namespace

std::vector<sock_filter> BuildStubFilter(uint64_t code_page, StubMode mode) {
  SCHECK(code_page % kPageSize == 0);
  BpfBuilder b;
  b.Load(kArch);
  b.Jump(BPF_JEQ, AUDIT_ARCH_X86_64, "", mode == StubMode::kSystrap ? "other_arch" : "kill");

  // The instruction pointer (the address after the `syscall`) must be in the code
  // page. A page never straddles a 4 GiB boundary, so the high words are equal.
  b.Load(kIpHi);
  b.Jump(BPF_JEQ, Hi(code_page), "", "not_stub");
  b.Load(kIpLo);
  b.Sub(Lo(code_page));
  b.Jump(BPF_JGE, kPageSize, mode == StubMode::kSystrap ? "trap" : "kill", "");

  b.Load(kNr);
  b.Jump(BPF_JEQ, __NR_mmap, "mmap", "");
  b.Jump(BPF_JEQ, __NR_munmap, "allow", "");
  b.Jump(BPF_JEQ, __NR_mprotect, "allow", "");
  b.Jump(BPF_JEQ, __NR_getpid, "allow", "");
  b.Jump(BPF_JEQ, __NR_kill, "kill_syscall", "");
  b.Jump(BPF_JEQ, __NR_clone, "clone", "");
  b.Jump(BPF_JEQ, __NR_prctl, "prctl", "");
  b.Jump(BPF_JEQ, __NR_recvmsg, "recvmsg", "");
  b.Jump(BPF_JEQ, __NR_close, "close", "");
  if (mode == StubMode::kSystrap) {
    b.Jump(BPF_JEQ, __NR_futex, "futex", "");
    b.Jump(BPF_JEQ, __NR_rt_sigreturn, "allow", "");
    b.Jump(BPF_JEQ, __NR_sched_yield, "allow", "");
    b.Jump(BPF_JEQ, __NR_seccomp, "seccomp", "");
    // A stub thread's set-up, injected before it stacks the guest-thread filter:
    // its altstack. (The signal handlers, shared by the whole stub, are the
    // template's own, installed before its filter: SetTemplateSignalActions.)
    b.Jump(BPF_JEQ, __NR_sigaltstack, "allow", "");
  }
  b.Return(SECCOMP_RET_KILL_PROCESS);

  if (mode == StubMode::kSystrap) {
    // The signal handler's hand-over, as in BuildSystrapGuestThreadFilter.
    b.Label("futex");
    b.Load(ArgLo(1));
    b.Jump(BPF_JEQ, FUTEX_WAIT, "allow", "");
    b.Jump(BPF_JEQ, FUTEX_WAKE, "allow", "kill");
    // seccomp(SECCOMP_SET_MODE_FILTER, 0, prog): a guest thread adds its own filter.
    // A filter can only take rights away.
    b.Label("seccomp");
    b.Load(ArgLo(0));
    b.Jump(BPF_JEQ, SECCOMP_SET_MODE_FILTER, "", "kill");
    b.Load(ArgLo(1));
    b.Jump(BPF_JEQ, 0, "allow", "kill");
  }

  // mmap(addr, len, prot, MAP_SHARED|MAP_FIXED, PTRACE_STUB_MEMORY_FD, offset), and
  // mmap(addr, len, prot without PROT_WRITE, MAP_PRIVATE|MAP_FIXED, host fd, offset)
  // of a host file the template received (MapHostFile). The kernel reads the fd
  // as an unsigned int.
  b.Label("mmap");
  b.Load(ArgHi(3));
  b.Jump(BPF_JEQ, 0, "", "kill");
  b.Load(ArgLo(3));
  b.Jump(BPF_JEQ, MAP_SHARED | MAP_FIXED, "mmap_memory_file", "");
  b.Jump(BPF_JEQ, MAP_PRIVATE | MAP_FIXED, "", "kill");
  b.Load(ArgLo(4));
  b.Jump(BPF_JGE, PTRACE_STUB_FIRST_HOST_FD, "", "kill");
  b.Load(ArgLo(2));
  b.Jump(BPF_JSET, PROT_WRITE, "kill", "allow");
  b.Label("mmap_memory_file");
  b.Load(ArgLo(4));
  b.Jump(BPF_JEQ, PTRACE_STUB_MEMORY_FD, "allow", "kill");

  // recvmsg(PTRACE_STUB_SOCKET_FD, msg, 0): the template receives a host file. The
  // kernel reads the fd and the flags as unsigned ints.
  b.Label("recvmsg");
  b.Load(ArgLo(0));
  b.Jump(BPF_JEQ, PTRACE_STUB_SOCKET_FD, "", "kill");
  b.Load(ArgLo(2));
  b.Jump(BPF_JEQ, 0, "allow", "kill");

  // close(fd >= PTRACE_STUB_FIRST_HOST_FD): the template drops a host file whose
  // HostFile is gone (never the memory file or the socket).
  b.Label("close");
  b.Load(ArgLo(0));
  b.Jump(BPF_JGE, PTRACE_STUB_FIRST_HOST_FD, "allow", "kill");

  // kill(getpid(), SIGSTOP) of the start-up.
  b.Label("kill_syscall");
  b.Load(ArgLo(1));  // The kernel reads the signal as an int.
  b.Jump(BPF_JEQ, SIGSTOP, "allow", "kill");

  // clone(kStubThreadCloneFlags, stack 0): a new stub thread; clone(kStubForkCloneFlags,
  // stack 0): a new stub forked from the template. The other arguments (parent_tid,
  // child_tid, tls) are unused without the flags that name them.
  static_assert(Hi(kStubThreadCloneFlags) == 0 && Hi(kStubForkCloneFlags) == 0);
  b.Label("clone");
  b.Load(ArgLo(0));
  b.Jump(BPF_JEQ, Lo(kStubThreadCloneFlags), "clone_flags_hi", "");
  b.Jump(BPF_JEQ, Lo(kStubForkCloneFlags), "clone_flags_hi", "kill");
  b.Label("clone_flags_hi");
  b.Load(ArgHi(0));
  b.Jump(BPF_JEQ, 0, "", "kill");
  b.Load(ArgLo(1));
  b.Jump(BPF_JEQ, 0, "", "kill");
  b.Load(ArgHi(1));
  b.Jump(BPF_JEQ, 0, "allow", "kill");

  // prctl(PR_SET_PDEATHSIG, SIGKILL): a new stub thread dies with the factory thread.
  b.Label("prctl");
  b.Load(ArgLo(0));  // The kernel reads the option as an int.
  b.Jump(BPF_JEQ, PR_SET_PDEATHSIG, "", "kill");
  b.Load(ArgLo(1));
  b.Jump(BPF_JEQ, SIGKILL, "", "kill");
  b.Load(ArgHi(1));
  b.Jump(BPF_JEQ, 0, "allow", "kill");

  // A holds the high word of the instruction pointer.
  b.Label("not_stub");
  if (mode == StubMode::kPtrace) {
    b.Jump(BPF_JEQ, Hi(kVsyscallPage), "", "kill");
    b.Load(kIpLo);
    b.Sub(Lo(kVsyscallPage));
    b.Jump(BPF_JGE, kPageSize, "kill", "");
  }
  if (mode == StubMode::kSystrap) {
    // Another ABI (`int 0x80`): traps from guest code like any guest call (the
    // Sentry sees it as on ptrace); from the code page it kills.
    b.Label("other_arch");
    b.Load(kIpHi);
    b.Jump(BPF_JEQ, Hi(code_page), "", "trap");
    b.Load(kIpLo);
    b.Sub(Lo(code_page));
    b.Jump(BPF_JGE, kPageSize, "trap", "kill");
  }
  // kPtrace: a guest call into the vsyscall page; kSystrap: any guest syscall.
  b.Label("trap");
  b.Return(SECCOMP_RET_TRAP);

  b.Label("allow");
  b.Return(SECCOMP_RET_ALLOW);
  b.Label("kill");
  b.Return(SECCOMP_RET_KILL_PROCESS);
  return b.Finish();
}

std::vector<sock_filter> BuildSystrapGuestThreadFilter(uint64_t code_page) {
  SCHECK(code_page % kPageSize == 0);
  BpfBuilder b;
  // Outside the code page every call traps, whatever its ABI (an `int 0x80` is
  // the Sentry's business, as on ptrace); inside it only x86-64 calls.
  b.Load(kIpHi);
  b.Jump(BPF_JEQ, Hi(code_page), "", "trap");
  b.Load(kIpLo);
  b.Sub(Lo(code_page));
  b.Jump(BPF_JGE, kPageSize, "trap", "");
  b.Load(kArch);
  b.Jump(BPF_JEQ, AUDIT_ARCH_X86_64, "", "kill");

  b.Load(kNr);
  b.Jump(BPF_JEQ, __NR_futex, "futex", "");
  // The wait loop's spin gives up its CPU now and then (the Sentry thread it
  // waits for may be queued on it).
  b.Jump(BPF_JEQ, __NR_sched_yield, "allow", "");
  b.Jump(BPF_JEQ, __NR_rt_sigreturn, "allow", "kill");

  // futex(uaddr, FUTEX_WAIT or FUTEX_WAKE, ...): only sleeps on or wakes a word.
  // The kernel reads the op as an int; no other op, no flag (FUTEX_PRIVATE_FLAG
  // would not match the Sentry's side of the shared page anyway).
  b.Label("futex");
  b.Load(ArgLo(1));
  b.Jump(BPF_JEQ, FUTEX_WAIT, "allow", "");
  b.Jump(BPF_JEQ, FUTEX_WAKE, "allow", "kill");

  b.Label("trap");
  b.Return(SECCOMP_RET_TRAP);
  b.Label("allow");
  b.Return(SECCOMP_RET_ALLOW);
  b.Label("kill");
  b.Return(SECCOMP_RET_KILL_PROCESS);
  return b.Finish();
}

}  // namespace platform::ptrace
