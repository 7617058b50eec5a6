#include "platform/ptrace/ptrace_platform.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/rseq.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "absl/cleanup/cleanup.h"

#include "absl/strings/str_format.h"
#include "platform/ptrace/ptrace_syscalls.h"
#include "platform/ptrace/stub.h"
#include "platform/ptrace/stub_seccomp.h"
#include "sentry/base/errno.h"
#include "sentry/base/log.h"
#include "sentry/base/status_macros.h"

namespace platform::ptrace {
namespace {

constexpr uint64_t kPageSize = 4096;
constexpr uint64_t kUserTop = PTRACE_STUB_USER_TOP;
// Where to look for the stub region: from the top of the user address space down,
// one candidate per GiB, over the last TiB.
constexpr uint64_t kCandidateStep = uint64_t{1} << 30;
constexpr uint64_t kLowestCandidate = 0x7f0000000000;

static_assert(kStubRegionSize % kPageSize == 0);

// Where the template maps the scratch page while it receives a host file. The
// template maps nothing but the stub page, so any page below the stub region
// is free there. It stays there from one install to the next, and is unmapped
// before the template forks a stub (UnmapScratchPage; both on the factory
// thread), so no stub ever has it.
constexpr uint64_t kScratchAddr = 0x100000;
// The scratch page: a msghdr at 0, its iovec, its control buffer (room for one
// SCM_RIGHTS fd) and its one data byte.
constexpr uint64_t kScratchIov = 64;
constexpr uint64_t kScratchControl = 128;
constexpr uint64_t kScratchData = 256;
static_assert(sizeof(msghdr) <= kScratchIov && kScratchIov + sizeof(iovec) <= kScratchControl &&
              kScratchControl + CMSG_SPACE(sizeof(int)) <= kScratchData);

std::atomic<uint64_t> next_address_space_id{1};
std::atomic<uint64_t> next_stub_thread_id{1};

// What a stub child that exited during its set-up was doing (stub.h).
const char* StubSetupStep(int exit_code) {
  switch (exit_code) {
    case PTRACE_STUB_EXIT_RSEQ:
      return "rseq(RSEQ_FLAG_UNREGISTER)";
    case PTRACE_STUB_EXIT_PDEATHSIG:
      return "prctl(PR_SET_PDEATHSIG)";
    case PTRACE_STUB_EXIT_PARENT_GONE:
      return "its parent check (the Sentry is gone)";
    case PTRACE_STUB_EXIT_TRACEME:
      return "ptrace(PTRACE_TRACEME)";
    case PTRACE_STUB_EXIT_SIGPROCMASK:
      return "rt_sigprocmask";
    case PTRACE_STUB_EXIT_DUP2:
      return "dup2 of the memory file";
    case PTRACE_STUB_EXIT_SIGACTION:
      return "rt_sigaction of a handler";
    case PTRACE_STUB_EXIT_DUP2_SOCKET:
      return "dup2 of the platform's socket";
    case PTRACE_STUB_EXIT_CLOSE_RANGE:
      return "close_range";
    case PTRACE_STUB_EXIT_NO_NEW_PRIVS:
      return "prctl(PR_SET_NO_NEW_PRIVS)";
    case PTRACE_STUB_EXIT_SECCOMP:
      return "seccomp(SECCOMP_SET_MODE_FILTER)";
    default:
      return nullptr;
  }
}

// Runs the stopped tracee `tid` (traced by the calling thread) from `r` until it
// stops at the stub's int3 (int3_addr), and leaves its registers there in `r`. On
// an unexpected wait status, *bad_status holds it (else -1); on any error the
// tracee is in an unknown state and the caller must kill it.
absl::Status RunToInt3(uint64_t int3_addr, pid_t tid, int pidfd, user_regs_struct& r,
                       int* bad_status) {
  *bad_status = -1;
  RETURN_IF_ERROR(PtraceSetRegs(tid, r));
  for (;;) {
    RETURN_IF_ERROR(PtraceResume(tid, PTRACE_CONT));
    ASSIGN_OR_RETURN(const int status, WaitForStub(pidfd, tid));
    // A SIGCONT's PTRACE_EVENT_STOP in a seized stub thread (see Switch): go on.
    if (WIFSTOPPED(status) && (status >> 16) == PTRACE_EVENT_STOP) continue;
    if (!WIFSTOPPED(status) || (status >> 16) != 0) {
      *bad_status = status;
      return absl::InternalError(DescribeWaitStatus(tid, status));
    }
    const int sig = WSTOPSIG(status);
    if (sig == kInterruptSignal) continue;  // A stale interrupt: drop it.
    if (sig == SIGTRAP) {
      // The int3: only executing it puts %rip past it (the tracee was resumed
      // at the syscall before it; a signal from elsewhere stops it before or
      // at the int3), so no siginfo is needed to tell (a ptrace call saved).
      RETURN_IF_ERROR(PtraceGetRegs(tid, &r));
      if (r.rip == int3_addr + 1) return absl::OkStatus();
    }
    siginfo_t info;
    RETURN_IF_ERROR(PtraceGetSiginfo(tid, &info));
    // A signal sent to the idle stub from the host (si_code <= 0): drop it too.
    if (info.si_code <= 0) continue;
    // Anything else is a fault of the stub itself: it would recur forever.
    PtraceGetRegs(tid, &r).IgnoreError();
    return absl::InternalError(
        absl::StrFormat("stub stopped by signal %d (si_code %d, address %p) at rip %#x", sig,
                        info.si_code, info.si_addr, r.rip));
  }
}

// Runs syscall `nr` in the stopped tracee `tid` from the stub's code page, with
// `base` as the other registers, and returns its raw result. Errors as RunToInt3's.
absl::StatusOr<int64_t> Inject(uint64_t int3_addr, pid_t tid, int pidfd,
                               const user_regs_struct& base, uint64_t nr,
                               const std::array<uint64_t, 6>& args, int* bad_status) {
  user_regs_struct r = base;
  r.rax = nr;
  r.rdi = args[0];
  r.rsi = args[1];
  r.rdx = args[2];
  r.r10 = args[3];
  r.r8 = args[4];
  r.r9 = args[5];
  RETURN_IF_ERROR(RunToInt3(int3_addr, tid, pidfd, r, bad_status));
  return static_cast<int64_t>(r.rax);
}

// The error for a tracee on which a request failed, after killing and reaping it.
// A request fails with ESRCH (NotFound) on a stopped tracee only if it died: then
// the message says how. Otherwise it is in an unknown state (DESIGN.md §11.6).
absl::Status TraceeLost(pid_t tid, int pidfd, std::string_view during, const absl::Status& cause) {
  const bool died = absl::IsNotFound(cause);
  const int status = KillAndReap(pidfd);
  if (died && status != -1) {
    return absl::InternalError(
        absl::StrFormat("%s: %s (%s)", during, DescribeWaitStatus(tid, status), cause.message()));
  }
  return absl::Status(cause.code(), absl::StrFormat("%s: %s; stub process %d killed", during,
                                                    cause.message(), tid));
}

absl::Status TraceeLostWithStatus(pid_t tid, int pidfd, std::string_view during, int wait_status) {
  if (!WIFEXITED(wait_status) && !WIFSIGNALED(wait_status)) KillAndReap(pidfd);
  return absl::InternalError(
      absl::StrFormat("%s: %s", during, DescribeWaitStatus(tid, wait_status)));
}

absl::Status TraceeFailed(pid_t tid, int pidfd, std::string_view during, const absl::Status& cause,
                          int bad_status) {
  return bad_status != -1 ? TraceeLostWithStatus(tid, pidfd, during, bad_status)
                          : TraceeLost(tid, pidfd, during, cause);
}

// The stub threads the calling host thread traces. At thread exit they are
// retired: killed and reaped while the thread is still their tracer (should the
// thread die abnormally, PTRACE_O_EXITKILL kills them and they are reaped with
// their address space).
struct TracedStubThreads {
  std::vector<std::shared_ptr<StubThread>> list;
  ~TracedStubThreads() {
    std::vector<std::shared_ptr<StubThread>> all = std::move(list);
    for (const std::shared_ptr<StubThread>& st : all) RetireStubThread(st);
  }
};
thread_local TracedStubThreads traced;

// The calling thread's stub thread in address space `as_id`, or nullptr. Forgets
// the ones that are gone on the way.
const std::shared_ptr<StubThread>* FindTraced(uint64_t as_id) {
  std::vector<std::shared_ptr<StubThread>>& l = traced.list;
  for (size_t i = 0; i < l.size();) {
    if (l[i]->gone.load(std::memory_order_relaxed)) {
      l[i] = std::move(l.back());
      l.pop_back();
      continue;
    }
    if (l[i]->as_id == as_id) return &l[i];
    ++i;
  }
  return nullptr;
}

}  // namespace

// --- StubThread, StubCore ---

StubThread::StubThread(pid_t tid, int pidfd, pid_t tracer, uint64_t as_id,
                       std::weak_ptr<StubCore> core)
    : tid(tid),
      pidfd(pidfd),
      tracer(tracer),
      as_id(as_id),
      id(next_stub_thread_id++),
      core(std::move(core)) {}

StubThread::~StubThread() { close(pidfd); }

StubCore::~StubCore() { close(pidfd); }

void StubCore::MarkLost() {
  std::vector<std::shared_ptr<StubThread>> threads;
  {
    absl::MutexLock l(&mu_);
    threads = threads_;
  }
  dead.store(true);
  for (const std::shared_ptr<StubThread>& st : threads) {
    st->gone.store(true);
    PidfdKill(st->pidfd, SIGKILL);
  }
}

void RetireStubThread(const std::shared_ptr<StubThread>& st) {
  if (std::shared_ptr<StubCore> core = st->core.lock()) {
    absl::MutexLock l(&core->mu_);
    std::erase(core->threads_, st);
  }
  st->gone.store(true);
  KillAndReap(st->pidfd);
}

void RetireCurrentThreadsStubThread(const std::shared_ptr<StubThread>& st) {
  std::erase(traced.list, st);
  RetireStubThread(st);
}

namespace {

// The rest of losing a stub thread: its address space is lost too, unless it was
// destroyed (which is why the stub thread died): then the error says so.
absl::Status AfterStubThreadLost(StubThread& st, std::string_view during, absl::Status s) {
  std::shared_ptr<StubCore> core = st.core.lock();
  if (core != nullptr) core->MarkLost();
  // Its core is gone only once the address space was destroyed.
  if (core == nullptr || core->destroyed()) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: the address space was destroyed (stub thread %d killed)", during, st.tid));
  }
  return s;
}

}  // namespace

absl::Status StubThreadLost(StubThread& st, std::string_view during, absl::Status cause) {
  st.gone.store(true);
  absl::Status s = TraceeLost(st.tid, st.pidfd, during, cause);
  return AfterStubThreadLost(st, during, std::move(s));
}

absl::Status StubThreadLostWithStatus(StubThread& st, std::string_view during, int wait_status) {
  st.gone.store(true);
  absl::Status s = TraceeLostWithStatus(st.tid, st.pidfd, during, wait_status);
  return AfterStubThreadLost(st, during, std::move(s));
}

// --- PtracePlatform ---

absl::StatusOr<std::unique_ptr<PtracePlatform>> PtracePlatform::New(
    const Options& options, StubMode mode, std::span<const char> extra_code) {
  if (options.memory_fd < 0) {
    return absl::InvalidArgumentError("ptrace platform: no memory file (Options::memory_fd)");
  }
  SCHECK(StubCodeSize() <= kStubExtraCodeOffset);
  SCHECK(extra_code.size() <= kStubRegionSize - kStubExtraCodeOffset);

  uint64_t start = 0;
  for (uint64_t c = kUserTop - kStubRegionSize; c >= kLowestCandidate; c -= kCandidateStep) {
    void* want = reinterpret_cast<void*>(c);
    void* p = mmap(want, kStubRegionSize, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED) {
      if (errno == EEXIST) continue;
      return sentry::HostError(absl::StrFormat("mmap of the ptrace stub region at %#x", c), errno);
    }
    if (p != want) {  // A kernel that ignores MAP_FIXED_NOREPLACE put it elsewhere.
      munmap(p, kStubRegionSize);
      continue;
    }
    start = c;
    break;
  }
  if (start == 0) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("ptrace platform: no free address for the stub region in [%#x, %#x)",
                        kLowestCandidate, kUserTop));
  }
  void* region = reinterpret_cast<void*>(start);
  std::memcpy(region, platform_ptrace_stub_code_start, StubCodeSize());
  if (!extra_code.empty()) {
    std::memcpy(static_cast<char*>(region) + kStubExtraCodeOffset, extra_code.data(),
                extra_code.size());
  }
  if (mprotect(region, kStubRegionSize, PROT_READ | PROT_EXEC) != 0) {
    int e = errno;
    munmap(region, kStubRegionSize);
    return sentry::HostError(absl::StrFormat("mprotect of the ptrace stub region at %#x", start),
                             e);
  }
  // The socket through which the template receives host files (MapHostFile). The
  // receiving end goes to fd 2 or above, so that the template's dup2 of the memory
  // file to fd 0 cannot close it (stub.h).
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
    const int e = errno;
    munmap(region, kStubRegionSize);
    return sentry::HostError("ptrace platform: socketpair for host files", e);
  }
  const int recv_fd = fcntl(sv[1], F_DUPFD_CLOEXEC, PTRACE_STUB_FIRST_HOST_FD + 1);
  const int dup_errno = errno;
  close(sv[1]);
  // The scratch page: one page of the memory file past its end (the memory
  // manager uses [0, size); systrap's slots go past this page).
  struct stat st;
  uint64_t scratch_offset = 0;
  void* scratch = MAP_FAILED;
  int e = 0;
  const char* what = nullptr;
  if (recv_fd < 0) {
    e = dup_errno;
    what = "ptrace platform: fcntl(F_DUPFD_CLOEXEC) of the host-file socket";
  } else if (fstat(options.memory_fd, &st) != 0) {
    e = errno;
    what = "ptrace platform: fstat of the memory file";
  } else {
    scratch_offset = (static_cast<uint64_t>(st.st_size) + kPageSize - 1) / kPageSize * kPageSize;
    if (ftruncate(options.memory_fd, static_cast<off_t>(scratch_offset + kPageSize)) != 0) {
      e = errno;
      what = "ptrace platform: growing the memory file for the scratch page";
    } else {
      scratch = mmap(nullptr, kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, options.memory_fd,
                     static_cast<off_t>(scratch_offset));
      if (scratch == MAP_FAILED) {
        e = errno;
        what = "ptrace platform: mmap of the scratch page";
      }
    }
  }
  if (what != nullptr) {
    close(sv[0]);
    if (recv_fd >= 0) close(recv_fd);
    munmap(region, kStubRegionSize);
    return sentry::HostError(what, e);
  }
  absl::StatusOr<std::unique_ptr<StubFactory>> factory = StubFactory::Start();
  if (!factory.ok()) {
    close(sv[0]);
    close(recv_fd);
    munmap(scratch, kPageSize);
    munmap(region, kStubRegionSize);
    return factory.status();
  }
  return std::unique_ptr<PtracePlatform>(
      new PtracePlatform(options.memory_fd, start, mode, *std::move(factory), sv[0], recv_fd,
                         scratch_offset, static_cast<uint8_t*>(scratch)));
}

PtracePlatform::PtracePlatform(int memory_fd, uint64_t region_start, StubMode mode,
                               std::unique_ptr<StubFactory> factory, int send_fd, int recv_fd,
                               uint64_t scratch_file_offset, uint8_t* scratch_mem)
    : memory_fd_(memory_fd),
      region_start_(region_start),
      filter_(BuildStubFilter(region_start, mode)),
      send_fd_(send_fd),
      recv_fd_(recv_fd),
      scratch_file_offset_(scratch_file_offset),
      scratch_mem_(scratch_mem),
      factory_(std::move(factory)) {
  filter_prog_.len = static_cast<unsigned short>(filter_.size());
  filter_prog_.filter = filter_.data();
}

PtracePlatform::~PtracePlatform() {
  // The template is a child of the factory thread: reap it (its exit would kill it,
  // but leave a zombie).
  factory_
      ->Run([this] {
        if (template_ != nullptr) KillAndReap(template_->pidfd);
        template_.reset();
        return absl::OkStatus();
      })
      .IgnoreError();
  factory_.reset();
  munmap(reinterpret_cast<void*>(region_start_), kStubRegionSize);
  munmap(scratch_mem_, kPageSize);
  close(send_fd_);
  close(recv_fd_);
}

uint64_t PtracePlatform::stub_syscall_addr() const { return region_start_ + StubSyscallOffset(); }
uint64_t PtracePlatform::stub_int3_addr() const { return region_start_ + StubInt3Offset(); }

absl::StatusOr<std::unique_ptr<AddressSpace>> PtracePlatform::NewAddressSpace() {
  std::shared_ptr<StubCore> core;
  uint64_t generation = 0;
  RETURN_IF_ERROR(factory_->Run([&]() -> absl::Status {
    ASSIGN_OR_RETURN(core, CreateStub());
    generation = CurrentGeneration();  // Of the template it was forked from.
    return absl::OkStatus();
  }));
  return std::unique_ptr<AddressSpace>(new PtraceAddressSpace(*this, std::move(core), generation));
}

absl::StatusOr<std::unique_ptr<Context>> PtracePlatform::NewContext() {
  return std::unique_ptr<Context>(new PtraceContext());
}

pid_t PtracePlatform::TemplatePid() {
  pid_t pid = 0;
  factory_
      ->Run([&] {
        if (template_ != nullptr) pid = template_->pid;
        return absl::OkStatus();
      })
      .IgnoreError();
  return pid;
}

// --- Host files (MapHostFile) ---

uint64_t PtracePlatform::CurrentGeneration() {
  absl::MutexLock l(&host_files_mu_);
  return generation_;
}

int PtracePlatform::InstalledHostFileFd(const HostFile& file) {
  absl::MutexLock l(&host_files_mu_);
  auto it = host_files_.find(file.id());
  return it != host_files_.end() ? it->second.fd : -1;
}

absl::StatusOr<int> PtracePlatform::HostFileFd(const std::shared_ptr<const HostFile>& file,
                                               uint64_t generation) {
  {
    absl::MutexLock l(&host_files_mu_);
    if (generation != generation_) {
      return absl::UnimplementedError(
          "ptrace platform: MapHostFile: the stub's template stub was lost and made again (its "
          "stubs' fd table takes no more host files)");
    }
    // The caller holds `file`, so an entry under its id is its own and alive.
    auto it = host_files_.find(file->id());
    if (it != host_files_.end()) return it->second.fd;
  }
  int fd = -1;
  absl::Status s = factory_->Run([&]() -> absl::Status {
    ASSIGN_OR_RETURN(fd, InstallHostFile(file, generation));
    return absl::OkStatus();
  });
  // The caller copies the pages instead: Unimplemented (no table to add to), or
  // FailedPrecondition for any other failure to install (the host's EMFILE,
  // say), which leaves the stubs as they were.
  if (!s.ok() && !absl::IsUnimplemented(s)) return absl::FailedPreconditionError(s.message());
  RETURN_IF_ERROR(s);
  return fd;
}

absl::StatusOr<int64_t> PtracePlatform::InjectIntoTemplate(uint64_t nr,
                                                           const std::array<uint64_t, 6>& args,
                                                           std::string_view what) {
  StubCore& tmpl = *template_;
  int bad;
  absl::StatusOr<int64_t> r =
      Inject(stub_int3_addr(), tmpl.pid, tmpl.pidfd, tmpl.inject_regs, nr, args, &bad);
  if (r.ok()) return r;
  const absl::Status s = TraceeFailed(tmpl.pid, tmpl.pidfd, what, r.status(), bad);
  template_->first_reaped = true;
  template_.reset();
  SLOG(kWarning, "ptrace platform: the template stub was lost (%s)", s.ToString());
  return absl::UnimplementedError(absl::StrFormat(
      "ptrace platform: MapHostFile: the template stub was lost (%s)", s.message()));
}

void PtracePlatform::DrainSocket() const {
  for (;;) {
    char byte;
    iovec iov{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control;
    mh.msg_controllen = sizeof(control);
    if (recvmsg(recv_fd_, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) < 0) {
      if (errno == EINTR) continue;
      return;  // EAGAIN: empty.
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < n; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
        close(fd);
      }
    }
  }
}

absl::StatusOr<int> PtracePlatform::InstallHostFile(const std::shared_ptr<const HostFile>& file,
                                                    uint64_t generation) {
  {
    absl::MutexLock l(&host_files_mu_);
    if (template_ == nullptr || generation != generation_) {
      return absl::UnimplementedError(
          "ptrace platform: MapHostFile: the stub's template stub was lost (its stubs' fd table "
          "takes no more host files)");
    }
    auto it = host_files_.find(file->id());
    if (it != host_files_.end()) return it->second.fd;  // Installed meanwhile.
  }
  // Close the files no one can map any more (their HostFile is gone), so that the
  // table does not grow without bound. Mappings made from them stay.
  std::vector<int> released;
  {
    absl::MutexLock l(&host_files_mu_);
    for (auto it = host_files_.begin(); it != host_files_.end();) {
      if (it->second.file.expired()) {
        released.push_back(it->second.fd);
        it = host_files_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const int fd : released) {
    ASSIGN_OR_RETURN(const int64_t r,
                     InjectIntoTemplate(SYS_close, {static_cast<uint64_t>(fd), 0, 0, 0, 0, 0},
                                        "close of a released host file in the template stub"));
    if (r != 0) {
      SLOG(kWarning, "ptrace platform: close(%d) in the template stub: %s", fd,
           sentry::HostError("close", static_cast<int>(-r)).ToString());
    }
  }

  const std::string what = absl::StrFormat(
      "ptrace platform: MapHostFile: receiving host file %d (fd %d) in the template stub",
      file->id(), file->fd());
  // The scratch page, in the template only (the template never runs guest code).
  // It stays mapped for the next installs until the next fork of the template,
  // which unmaps it first (UnmapScratchPage): no stub ever inherits it.
  if (!scratch_mapped_) {
    ASSIGN_OR_RETURN(
        const int64_t m,
        InjectIntoTemplate(SYS_mmap,
                           {kScratchAddr, kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
                            PTRACE_STUB_MEMORY_FD, scratch_file_offset_},
                           "mmap of the scratch page in the template stub"));
    if (m < 0) return sentry::HostError(what + ": mmap of the scratch page", static_cast<int>(-m));
    if (static_cast<uint64_t>(m) != kScratchAddr) {
      // MAP_FIXED cannot map elsewhere; do not leave it mapped if it did.
      KillAndReap(template_->pidfd);
      template_->first_reaped = true;
      template_.reset();
      return absl::InternalError(absl::StrFormat("%s: scratch page mapped at %#x", what, m));
    }
    scratch_mapped_ = true;
  }

  // The template's msghdr, written through our own mapping of the page.
  std::memset(scratch_mem_, 0, kPageSize);
  msghdr tmh{};
  tmh.msg_iov = reinterpret_cast<iovec*>(kScratchAddr + kScratchIov);
  tmh.msg_iovlen = 1;
  tmh.msg_control = reinterpret_cast<void*>(kScratchAddr + kScratchControl);
  tmh.msg_controllen = CMSG_SPACE(sizeof(int));
  const iovec tiov{reinterpret_cast<void*>(kScratchAddr + kScratchData), 1};
  std::memcpy(scratch_mem_, &tmh, sizeof(tmh));
  std::memcpy(scratch_mem_ + kScratchIov, &tiov, sizeof(tiov));

  // Our message: one byte and the fd.
  char byte = 0;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control;
  mh.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  const int host_fd = file->fd();
  std::memcpy(CMSG_DATA(c), &host_fd, sizeof(host_fd));

  absl::Status result;
  int received = -1;
  ssize_t sent;
  do {
    sent = sendmsg(send_fd_, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent != 1) {
    result = sentry::HostError(what + ": sendmsg", sent < 0 ? errno : EIO);
  } else {
    // recvmsg(PTRACE_STUB_SOCKET_FD, scratch, 0) in the template: the socket is
    // non-blocking (a file status flag, shared with our end), so it never waits.
    absl::StatusOr<int64_t> r = InjectIntoTemplate(
        SYS_recvmsg, {PTRACE_STUB_SOCKET_FD, kScratchAddr, 0, 0, 0, 0}, "recvmsg in the template");
    if (!r.ok()) {
      DrainSocket();
      return r.status();  // The template is gone, and its scratch page with it.
    }
    if (*r != 1) {
      result = sentry::HostError(what + ": recvmsg", *r < 0 ? static_cast<int>(-*r) : EIO);
    } else {
      // What the kernel wrote in the template's msghdr and control buffer (the
      // template runs no guest code: trusted, but checked all the same).
      msghdr got;
      cmsghdr gc;
      std::memcpy(&got, scratch_mem_, sizeof(got));
      std::memcpy(&gc, scratch_mem_ + kScratchControl, sizeof(gc));
      int fd = -1;
      std::memcpy(&fd, scratch_mem_ + kScratchControl + CMSG_LEN(0), sizeof(fd));
      if ((got.msg_flags & MSG_CTRUNC) != 0 || got.msg_controllen < CMSG_LEN(sizeof(int)) ||
          gc.cmsg_level != SOL_SOCKET || gc.cmsg_type != SCM_RIGHTS ||
          gc.cmsg_len != CMSG_LEN(sizeof(int)) || fd < PTRACE_STUB_FIRST_HOST_FD) {
        result = absl::InternalError(absl::StrFormat(
            "%s: the template received no fd (msg_flags %#x, controllen %d, cmsg %d/%d/%d, fd %d)",
            what, got.msg_flags, got.msg_controllen, gc.cmsg_level, gc.cmsg_type, gc.cmsg_len, fd));
      } else {
        received = fd;
      }
    }
  }

  if (!result.ok()) {
    DrainSocket();
    return result;
  }
  absl::MutexLock l(&host_files_mu_);
  host_files_[file->id()] = InstalledHostFile{file, received};
  return received;
}

absl::Status PtracePlatform::EnsureTemplate() {
  if (template_ != nullptr) return absl::OkStatus();
  SLOG(kDebug, "boot: creating the template stub");
  absl::StatusOr<std::shared_ptr<StubCore>> t = CreateStubFromSentry();
  if (!t.ok()) {
    return absl::Status(
        t.status().code(),
        absl::StrFormat("ptrace platform: creating the template stub: %s", t.status().message()));
  }
  template_ = *std::move(t);
  scratch_mapped_ = false;
  {
    // A new fd table: host files must be received again.
    absl::MutexLock l(&host_files_mu_);
    ++generation_;
    host_files_.clear();
  }
  SLOG(kDebug, "boot: template stub created");
  if (template_setup_) {
    StubCore& tmpl = *template_;
    const uint64_t int3 = stub_int3_addr();
    absl::Status setup = template_setup_([&](uint64_t nr, const std::array<uint64_t, 6>& args) {
      int bad;
      return Inject(int3, tmpl.pid, tmpl.pidfd, tmpl.inject_regs, nr, args, &bad);
    });
    if (!setup.ok()) {
      KillAndReap(tmpl.pidfd);  // -1 if it died and was reaped already.
      template_->first_reaped = true;
      template_.reset();
      return absl::Status(
          setup.code(),
          absl::StrFormat("ptrace platform: setting up the template stub: %s", setup.message()));
    }
    SLOG(kDebug, "boot: template stub set up");
  }
  return absl::OkStatus();
}

void PtracePlatform::Warm() {
  if (absl::Status s = factory_->Run([this] { return EnsureTemplate(); }); !s.ok()) {
    SLOG(kDebug, "ptrace platform: making the template stub ahead: %s", s.ToString());
  }
}

absl::StatusOr<std::shared_ptr<StubCore>> PtracePlatform::CreateStub() {
  for (int attempt = 0;; ++attempt) {
    RETURN_IF_ERROR(EnsureTemplate());
    bool lost = false;
    absl::StatusOr<std::shared_ptr<StubCore>> core;
    if (absl::Status s = UnmapScratchPage(&lost); !s.ok()) {
      core = std::move(s);
    } else {
      core = ForkTemplate(*template_, &lost);
    }
    if (!lost) return core;
    // It was killed and reaped: make a new one, once per call.
    template_->first_reaped = true;
    template_.reset();
    if (attempt > 0) return core;
    SLOG(kWarning, "ptrace platform: the template stub was lost (%s); making a new one",
         core.status().ToString());
  }
}

absl::Status PtracePlatform::UnmapScratchPage(bool* template_lost) {
  *template_lost = false;
  if (!scratch_mapped_) return absl::OkStatus();
  StubCore& tmpl = *template_;
  int bad;
  absl::StatusOr<int64_t> r = Inject(stub_int3_addr(), tmpl.pid, tmpl.pidfd, tmpl.inject_regs,
                                     SYS_munmap, {kScratchAddr, kPageSize, 0, 0, 0, 0}, &bad);
  if (!r.ok()) {
    *template_lost = true;
    return TraceeFailed(tmpl.pid, tmpl.pidfd, "munmap of the scratch page in the template stub",
                        r.status(), bad);
  }
  if (*r != 0) {
    // Never let a stub inherit it: lose the template instead.
    *template_lost = true;
    KillAndReap(tmpl.pidfd);
    return sentry::HostError(
        absl::StrFormat("munmap of the scratch page in the template stub %d", tmpl.pid),
        static_cast<int>(-*r));
  }
  scratch_mapped_ = false;
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<StubCore>> PtracePlatform::ForkTemplate(StubCore& tmpl,
                                                                       bool* template_lost) const {
  *template_lost = false;
  int bad;
  absl::StatusOr<int64_t> r = Inject(stub_int3_addr(), tmpl.pid, tmpl.pidfd, tmpl.inject_regs,
                                     SYS_clone, {kStubForkCloneFlags, 0, 0, 0, 0, 0}, &bad);
  if (!r.ok()) {
    *template_lost = true;
    return TraceeFailed(tmpl.pid, tmpl.pidfd, "clone of a new stub from the template stub",
                        r.status(), bad);
  }
  if (*r < 0) {
    return sentry::HostError(
        absl::StrFormat("clone of a new stub from the template stub %d", tmpl.pid), -*r);
  }
  const pid_t pid = static_cast<pid_t>(*r);
  absl::StatusOr<int> pidfd = PidfdOpen(pid);
  if (!pidfd.ok()) {
    // Our traced child (CLONE_PARENT): nobody else reaps it, so its pid is not reused.
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, __WALL) < 0 && errno == EINTR) {
    }
    return pidfd.status();
  }
  // From here on, the core's pidfd names the child; failures kill and reap it.
  auto core = std::make_shared<StubCore>(pid, *pidfd, next_address_space_id++);
  const std::string_view during = "new stub from the template stub";

  // CLONE_PTRACE: traced by us from birth (with the template's options, EXITKILL
  // and TRACESYSGOOD), with a SIGSTOP pending that stops it before it runs a
  // single instruction.
  absl::StatusOr<int> status = WaitForStub(core->pidfd, pid);
  if (!status.ok()) return TraceeLost(pid, core->pidfd, during, status.status());
  if (!WIFSTOPPED(*status) || WSTOPSIG(*status) != SIGSTOP || (*status >> 16) != 0) {
    return TraceeLostWithStatus(pid, core->pidfd, during, *status);
  }
  // It returns from the clone (rax 0) to the stub's int3, as a copy of the template.
  user_regs_struct regs;
  if (absl::Status s = PtraceGetRegs(pid, &regs); !s.ok()) {
    return TraceeLost(pid, core->pidfd, during, s);
  }
  if (regs.rip != stub_int3_addr() || regs.rax != 0) {
    KillAndReap(core->pidfd);
    return absl::InternalError(
        absl::StrFormat("new stub %d stopped at %#x with rax %#x, not at its int3 %#x with 0", pid,
                        regs.rip, regs.rax, stub_int3_addr()));
  }
  core->inject_regs = tmpl.inject_regs;
  return core;
}

absl::StatusOr<std::shared_ptr<StubCore>> PtracePlatform::CreateStubFromSentry() const {
  StubArgs args{
      .ppid = static_cast<uint64_t>(getpid()),
      .memory_fd = static_cast<uint64_t>(memory_fd_),
      .filter = &filter_prog_,
      .region_start = region_start_,
      .region_end = region_end(),
      .entry = region_start_,
      .rseq = 0,
      .rseq_len = 0,
      .rseq_sig = 0,
      .sigactions = template_sigactions_.has_value() ? template_sigactions_->data() : nullptr,
      .socket_fd = static_cast<uint64_t>(recv_fd_),
  };
  // glibc registers an rseq area per thread (at the thread pointer + __rseq_offset);
  // the kernel's registration is at least 32 bytes long (glibc >= 2.40 may report a
  // smaller feature size in __rseq_size).
  if (__rseq_size != 0) {
    args.rseq =
        reinterpret_cast<uint64_t>(static_cast<char*>(__builtin_thread_pointer()) + __rseq_offset);
    args.rseq_len = std::max<uint64_t>(__rseq_size, 32);
    args.rseq_sig = RSEQ_SIG;
  }
  // The child must not run a Sentry signal handler before it resets them all (the
  // factory thread blocks every signal already; this keeps the rule local).
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  const pid_t pid = platform_ptrace_stub_clone(&args);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return sentry::HostError("clone of a ptrace stub process", -pid);

  absl::StatusOr<int> pidfd = PidfdOpen(pid);
  if (!pidfd.ok()) {
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, __WALL) < 0 && errno == EINTR) {
    }
    return pidfd.status();
  }
  // From here on, the core's pidfd names the child; failures kill and reap it.
  auto core = std::make_shared<StubCore>(pid, *pidfd, next_address_space_id++);
  const std::string_view during = "ptrace stub start-up";

  // The child stops itself with SIGSTOP once it is clean, or exits if it cannot be.
  absl::StatusOr<int> status = WaitForStub(core->pidfd, pid);
  if (!status.ok()) return TraceeLost(pid, core->pidfd, during, status.status());
  if (WIFEXITED(*status) && StubSetupStep(WEXITSTATUS(*status)) != nullptr) {
    return absl::FailedPreconditionError(
        absl::StrFormat("ptrace stub process %d failed to set itself up: %s failed", pid,
                        StubSetupStep(WEXITSTATUS(*status))));
  }
  if (!WIFSTOPPED(*status) || WSTOPSIG(*status) != SIGSTOP) {
    return TraceeLostWithStatus(pid, core->pidfd, during, *status);
  }
  // EXITKILL: a stub never outlives the factory thread (DESIGN.md §11.6).
  if (absl::Status s = PtraceSetOptions(pid, PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD); !s.ok()) {
    return TraceeLost(pid, core->pidfd, during, s);
  }

  // Check that the stub is where it should be and unmapped all of the Sentry.
  user_regs_struct r;
  if (absl::Status s = PtraceGetRegs(pid, &r); !s.ok()) {
    return TraceeLost(pid, core->pidfd, during, s);
  }
  if (r.rip != stub_syscall_addr()) {
    KillAndReap(core->pidfd);
    return absl::InternalError(
        absl::StrFormat("ptrace stub process %d stopped at %#x, not at its syscall loop %#x", pid,
                        r.rip, stub_syscall_addr()));
  }
  for (const auto& [result, what] : {std::pair{r.r14, "below"}, std::pair{r.r15, "above"}}) {
    if (result != 0) {
      KillAndReap(core->pidfd);
      return sentry::HostError(
          absl::StrFormat("ptrace stub process %d: munmap of everything %s the stub region", pid,
                          what),
          -static_cast<int>(result));
    }
  }
  core->inject_regs = r;
  core->inject_regs.fs_base = core->inject_regs.gs_base = 0;
  core->inject_regs.orig_rax = ~uint64_t{0};  // Not in a syscall: no restart by the kernel.
  core->inject_regs.rip = stub_syscall_addr();
  return core;
}

absl::Status PtracePlatform::CloneStubThread(StubCore& core, pid_t* tid, int* pidfd) const {
  if (core.dead.load()) {
    return absl::FailedPreconditionError(
        absl::StrFormat("ptrace platform: new stub thread: stub process %d is lost", core.pid));
  }
  int bad;
  absl::StatusOr<int64_t> r = Inject(stub_int3_addr(), core.pid, core.pidfd, core.inject_regs,
                                     SYS_clone, {kStubThreadCloneFlags, 0, 0, 0, 0, 0}, &bad);
  if (!r.ok()) {
    absl::Status s = TraceeFailed(core.pid, core.pidfd, "clone of a stub thread", r.status(), bad);
    core.first_reaped = true;
    core.MarkLost();
    return s;
  }
  if (*r < 0) {
    return sentry::HostError(absl::StrFormat("clone of a stub thread in stub process %d", core.pid),
                             -*r);
  }
  const pid_t child = static_cast<pid_t>(*r);
  absl::StatusOr<int> fd = PidfdOpen(child);
  if (!fd.ok()) {
    // Our traced child: nobody else can reap it, so its pid cannot be reused.
    ::kill(child, SIGKILL);
    while (::waitpid(child, nullptr, __WALL) < 0 && errno == EINTR) {
    }
    return fd.status();
  }
  absl::Cleanup close_fd = [&] { close(*fd); };
  const std::string_view during = "new stub thread";

  // CLONE_PTRACE: traced by us from birth, with a SIGSTOP pending that stops it
  // before it runs a single instruction.
  absl::StatusOr<int> status = WaitForStub(*fd, child);
  if (!status.ok()) return TraceeLost(child, *fd, during, status.status());
  if (!WIFSTOPPED(*status) || WSTOPSIG(*status) != SIGSTOP || (*status >> 16) != 0) {
    return TraceeLostWithStatus(child, *fd, during, *status);
  }
  // Die with the factory thread, its real parent (CLONE_PARENT), even while no
  // host thread traces it (between the detach below and the new tracer's seize).
  r = Inject(stub_int3_addr(), child, *fd, core.inject_regs, SYS_prctl,
             {PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0, 0}, &bad);
  if (!r.ok()) return TraceeFailed(child, *fd, during, r.status(), bad);
  if (*r != 0) {
    KillAndReap(*fd);
    return sentry::HostError(
        absl::StrFormat("prctl(PR_SET_PDEATHSIG) in new stub thread %d", child), -*r);
  }
  // Detach it with SIGSTOP: it enters a group-stop of its own (it is a process of
  // its own) and waits there, untraced, for its new tracer's PTRACE_SEIZE.
  if (absl::Status s = PtraceDetach(child, SIGSTOP); !s.ok()) {
    return TraceeLost(child, *fd, during, s);
  }
  std::move(close_fd).Cancel();
  *tid = child;
  *pidfd = *fd;
  return absl::OkStatus();
}

// --- PtraceAddressSpace ---

PtraceAddressSpace::~PtraceAddressSpace() {
  std::vector<std::shared_ptr<StubThread>> threads;
  {
    absl::MutexLock l(&core_->mu_);
    core_->destroyed_ = true;
    core_->dead.store(true);
    // A stub thread being created is added to the list or killed by its creator.
    core_->mu_.Await(absl::Condition(core_.get(), &StubCore::NoneCreating));
    threads.swap(core_->threads_);
  }
  // Kill them all first, so that every Switch in them returns at once, then reap
  // them (racing with their tracers' waits is harmless: waits go through pidfds).
  // The first process too, so that it dies meanwhile (a hand-over in flight on it
  // fails; the factory thread reaps it below, after that request).
  PidfdKill(core_->pidfd, SIGKILL);
  for (const std::shared_ptr<StubThread>& st : threads) {
    st->gone.store(true);
    PidfdKill(st->pidfd, SIGKILL);
  }
  for (const std::shared_ptr<StubThread>& st : threads) KillAndReap(st->pidfd);
  // The first process on the factory thread, after any request in flight on it.
  StubCore& core = *core_;
  platform_.factory_
      ->Run([&core] {
        if (!core.first_reaped) KillAndReap(core.pidfd);
        core.first_reaped = true;
        return absl::OkStatus();
      })
      .IgnoreError();
}

absl::StatusOr<std::shared_ptr<StubThread>> PtraceAddressSpace::StubThreadForCurrentThread(
    bool create) {
  if (const std::shared_ptr<StubThread>* st = FindTraced(id())) return *st;
  if (lost()) {
    return absl::FailedPreconditionError(
        absl::StrFormat("ptrace platform: stub process %d is lost", pid()));
  }
  if (!create) {
    return absl::NotFoundError(
        absl::StrFormat("ptrace platform: host thread %d has no stub thread in stub process %d",
                        CurrentTid(), pid()));
  }
  return NewStubThread();
}

absl::StatusOr<std::shared_ptr<StubThread>> PtraceAddressSpace::NewStubThread() {
  {
    absl::MutexLock l(&core_->mu_);
    if (core_->destroyed_ || core_->dead.load()) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "ptrace platform: new stub thread: stub process %d is lost or destroyed", pid()));
    }
    ++core_->creating_;
  }
  absl::Cleanup created = [this] {
    absl::MutexLock l(&core_->mu_);
    --core_->creating_;
  };
  pid_t tid = 0;
  int pidfd = -1;
  StubCore& core = *core_;
  const PtracePlatform& platform = platform_;
  RETURN_IF_ERROR(
      platform_.factory_->Run([&] { return platform.CloneStubThread(core, &tid, &pidfd); }));
  auto st = std::make_shared<StubThread>(tid, pidfd, CurrentTid(), id(), core_);
  const std::string_view during = "attaching a new stub thread";

  // It waits in a group-stop (or is about to enter one: the detach's SIGSTOP may
  // still be on its way). PTRACE_SEIZE sends no signal of its own and turns either
  // into exactly one PTRACE_EVENT_STOP for us.
  if (absl::Status s = PtraceSeize(tid, PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD); !s.ok()) {
    st->gone.store(true);
    return TraceeLost(tid, pidfd, during, s);
  }
  absl::StatusOr<int> status = WaitForStub(pidfd, tid);
  if (!status.ok()) {
    st->gone.store(true);
    return TraceeLost(tid, pidfd, during, status.status());
  }
  if (!WIFSTOPPED(*status) || WSTOPSIG(*status) != SIGSTOP ||
      (*status >> 16) != PTRACE_EVENT_STOP) {
    st->gone.store(true);
    return TraceeLostWithStatus(tid, pidfd, during, *status);
  }
  // Where the factory left it: after the int3 of its injected prctl.
  user_regs_struct r;
  if (absl::Status s = PtraceGetRegs(tid, &r); !s.ok()) {
    st->gone.store(true);
    return TraceeLost(tid, pidfd, during, s);
  }
  if (r.rip != platform_.stub_int3_addr() + 1) {
    st->gone.store(true);
    KillAndReap(pidfd);
    return absl::InternalError(
        absl::StrFormat("new stub thread %d stopped at %#x, not in its syscall loop", tid, r.rip));
  }
  bool added = false;
  {
    absl::MutexLock l(&core_->mu_);
    if (!core_->destroyed_ && !core_->dead.load()) {
      core_->threads_.push_back(st);
      added = true;
    }
  }
  if (!added) {
    st->gone.store(true);
    KillAndReap(pidfd);
    return absl::FailedPreconditionError(absl::StrFormat(
        "ptrace platform: new stub thread: stub process %d was lost or destroyed meanwhile",
        pid()));
  }
  traced.list.push_back(st);
  return st;
}

absl::StatusOr<std::shared_ptr<StubThread>> PtraceAddressSpace::AdoptStubThread(pid_t tid,
                                                                                int pidfd) {
  auto st = std::make_shared<StubThread>(tid, pidfd, CurrentTid(), id(), core_);
  {
    absl::MutexLock l(&core_->mu_);
    if (!core_->destroyed_ && !core_->dead.load()) {
      core_->threads_.push_back(st);
      return st;
    }
  }
  st->gone.store(true);
  KillAndReap(pidfd);
  return absl::FailedPreconditionError(absl::StrFormat(
      "ptrace platform: new stub thread: stub process %d is lost or destroyed", pid()));
}

absl::StatusOr<int64_t> PtraceAddressSpace::InjectInto(StubThread& st, uint64_t nr,
                                                       const std::array<uint64_t, 6>& args) {
  int bad;
  absl::StatusOr<int64_t> r =
      Inject(platform_.stub_int3_addr(), st.tid, st.pidfd, core_->inject_regs, nr, args, &bad);
  if (!r.ok()) {
    return bad != -1 ? StubThreadLostWithStatus(st, "stub thread set-up", bad)
                     : StubThreadLost(st, "stub thread set-up", r.status());
  }
  return r;
}

absl::StatusOr<user_regs_struct> PtraceAddressSpace::RunUntilInt3(StubThread& st,
                                                                  const user_regs_struct& regs) {
  int bad;
  user_regs_struct r = regs;
  if (absl::Status s = RunToInt3(platform_.stub_int3_addr(), st.tid, st.pidfd, r, &bad); !s.ok()) {
    return bad != -1 ? StubThreadLostWithStatus(st, "stub thread set-up", bad)
                     : StubThreadLost(st, "stub thread set-up", s);
  }
  return r;
}

pid_t PtraceAddressSpace::CurrentStubThreadTid() const {
  const std::shared_ptr<StubThread>* st = FindTraced(id());
  return st != nullptr ? (*st)->tid : 0;
}

std::vector<pid_t> PtraceAddressSpace::StubThreadTids() const {
  std::vector<pid_t> tids;
  absl::MutexLock l(&core_->mu_);
  for (const std::shared_ptr<StubThread>& st : core_->threads_) {
    if (!st->gone.load()) tids.push_back(st->tid);
  }
  return tids;
}

absl::StatusOr<int64_t> PtraceAddressSpace::InjectSyscall(uint64_t nr,
                                                          const std::array<uint64_t, 6>& args) {
  const std::string_view during = "syscall injection";
  if (lost()) {
    return absl::FailedPreconditionError(
        absl::StrFormat("ptrace platform: %s: stub process %d is lost", during, pid()));
  }
  // The fast path: through the calling thread's own stub thread.
  if (const std::shared_ptr<StubThread>* p = FindTraced(id())) {
    StubThread& st = **p;
    int bad;
    absl::StatusOr<int64_t> r =
        Inject(platform_.stub_int3_addr(), st.tid, st.pidfd, core_->inject_regs, nr, args, &bad);
    if (!r.ok()) {
      return bad != -1 ? StubThreadLostWithStatus(st, during, bad)
                       : StubThreadLost(st, during, r.status());
    }
    return r;
  }
  // Else through the first process, on the factory thread.
  int64_t result = 0;
  StubCore& core = *core_;
  const uint64_t int3 = platform_.stub_int3_addr();
  RETURN_IF_ERROR(platform_.factory_->Run([&]() -> absl::Status {
    if (core.dead.load()) {
      return absl::FailedPreconditionError(
          absl::StrFormat("ptrace platform: %s: stub process %d is lost", during, core.pid));
    }
    int bad;
    absl::StatusOr<int64_t> r =
        Inject(int3, core.pid, core.pidfd, core.inject_regs, nr, args, &bad);
    if (!r.ok()) {
      absl::Status s = TraceeFailed(core.pid, core.pidfd, during, r.status(), bad);
      core.first_reaped = true;
      core.MarkLost();
      return s;
    }
    result = *r;
    return absl::OkStatus();
  }));
  return result;
}

absl::Status PtraceAddressSpace::CheckRange(std::string_view operation, uint64_t addr,
                                            uint64_t len) const {
  const uint64_t max = platform_.MaxUserAddress();
  if (addr % kPageSize != 0 || len % kPageSize != 0 || len == 0 || addr > max || len > max - addr) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "ptrace platform: %s of [%#x, +%#x): not page-aligned or outside the guest address "
        "space [0, %#x)",
        operation, addr, len, max));
  }
  return absl::OkStatus();
}

absl::Status PtraceAddressSpace::MapFile(uint64_t addr, uint64_t file_offset, uint64_t len,
                                         int prot) {
  RETURN_IF_ERROR(CheckRange("MapFile", addr, len));
  if (file_offset % kPageSize != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("ptrace platform: MapFile of unaligned file offset %#x", file_offset));
  }
  ASSIGN_OR_RETURN(int64_t ret, InjectSyscall(SYS_mmap, {addr, len, static_cast<uint64_t>(prot),
                                                         MAP_SHARED | MAP_FIXED,
                                                         PTRACE_STUB_MEMORY_FD, file_offset}));
  if (ret < 0) {
    return sentry::HostError(
        absl::StrFormat("mmap of memory-file offset %#x at [%#x, %#x) prot %#x in stub process %d",
                        file_offset, addr, addr + len, prot, pid()),
        static_cast<int>(-ret));
  }
  if (static_cast<uint64_t>(ret) != addr) {
    return absl::InternalError(
        absl::StrFormat("mmap at %#x in stub process %d mapped at %#x instead", addr, pid(), ret));
  }
  return absl::OkStatus();
}

absl::Status PtraceAddressSpace::MapHostFile(uint64_t addr,
                                             const std::shared_ptr<const HostFile>& file,
                                             uint64_t file_offset, uint64_t len, int prot) {
  RETURN_IF_ERROR(CheckRange("MapHostFile", addr, len));
  if (file == nullptr || file->fd() < 0) {
    return absl::InvalidArgumentError("ptrace platform: MapHostFile without a host file");
  }
  if (file_offset % kPageSize != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("ptrace platform: MapHostFile of unaligned file offset %#x", file_offset));
  }
  if ((prot & PROT_WRITE) != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("ptrace platform: MapHostFile of [%#x, %#x) with PROT_WRITE (prot %#x): "
                        "host files are mapped read-only",
                        addr, addr + len, prot));
  }
  ASSIGN_OR_RETURN(const int fd, platform_.HostFileFd(file, generation_));
  ASSIGN_OR_RETURN(int64_t ret, InjectSyscall(SYS_mmap, {addr, len, static_cast<uint64_t>(prot),
                                                         MAP_PRIVATE | MAP_FIXED,
                                                         static_cast<uint64_t>(fd), file_offset}));
  if (ret < 0) {
    const int e = static_cast<int>(-ret);
    const std::string what = absl::StrFormat(
        "mmap of host file %d (stub fd %d) offset %#x at [%#x, %#x) prot %#x in stub process %d",
        file->id(), fd, file_offset, addr, addr + len, prot, pid());
    // "Any error leaves the range unmapped" (platform.h); best effort.
    InjectSyscall(SYS_munmap, {addr, len, 0, 0, 0, 0}).IgnoreError();
    absl::Status s = sentry::HostError(what, e);
    if (e == EACCES || e == EPERM || e == ENODEV) {
      // The host refuses this file or this prot (a noexec mount with PROT_EXEC):
      // the caller copies instead.
      return absl::FailedPreconditionError(s.message());
    }
    return s;
  }
  if (static_cast<uint64_t>(ret) != addr) {
    return absl::InternalError(
        absl::StrFormat("mmap at %#x in stub process %d mapped at %#x instead", addr, pid(), ret));
  }
  return absl::OkStatus();
}

absl::Status PtraceAddressSpace::Unmap(uint64_t addr, uint64_t len) {
  RETURN_IF_ERROR(CheckRange("Unmap", addr, len));
  ASSIGN_OR_RETURN(int64_t ret, InjectSyscall(SYS_munmap, {addr, len, 0, 0, 0, 0}));
  if (ret < 0) {
    return sentry::HostError(
        absl::StrFormat("munmap of [%#x, %#x) in stub process %d", addr, addr + len, pid()),
        static_cast<int>(-ret));
  }
  return absl::OkStatus();
}

absl::Status PtraceAddressSpace::Recycle() { return Unmap(0, platform_.MaxUserAddress()); }

absl::Status PtraceAddressSpace::Protect(uint64_t addr, uint64_t len, int prot) {
  RETURN_IF_ERROR(CheckRange("Protect", addr, len));
  ASSIGN_OR_RETURN(int64_t ret,
                   InjectSyscall(SYS_mprotect, {addr, len, static_cast<uint64_t>(prot), 0, 0, 0}));
  if (ret < 0) {
    return sentry::HostError(
        absl::StrFormat("mprotect of [%#x, %#x) to prot %#x in stub process %d", addr, addr + len,
                        prot, pid()),
        static_cast<int>(-ret));
  }
  return absl::OkStatus();
}

}  // namespace platform::ptrace
