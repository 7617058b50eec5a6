// The Sentry's own cost of the file rows of sandbox_bench (stat, open+close,
// 4 KiB pread), without the platform round trip: the sandbox's root as
// `runsc do` builds it — an overlay of a tmpfs over the gofer's view of a
// host tree (a real gofer::Server in-process on a socketpair) — driven
// through vfs::VirtualFilesystem. "tmp" is a file made in the overlay (it
// lives in the upper tmpfs, as /tmp/x does in the sandbox), "host" a file of
// the host tree (the gofer's, not copied up) five names deep.
//
//   build/tools/bench/vfs_benchmark [--deadlock_detection] [benchmark flags]
//
// CPU time is the number to compare (other jobs share the machine). Mutex
// deadlock detection is off, as in runsc (runsc/main.cc), unless
// --deadlock_detection is given.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "benchmark/benchmark.h"
#include "gofer/client.h"
#include "gofer/server.h"
#include "gofer/test_util.h"
#include "sentry/fsimpl/gofer/gofer_fs.h"
#include "sentry/fsimpl/overlay/overlay.h"
#include "sentry/fsimpl/tmpfs/tmpfs.h"
#include "sentry/memory/memory_file.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/vfs.h"

namespace {

using sentry::vfs::PathContext;
using sentry::vfs::VirtualFilesystem;

constexpr char kHostPath[] = "/usr/lib/x86/bench/file";
constexpr char kTmpPath[] = "/tmp/file";

struct Sandbox {
  std::string dir;
  std::thread server_thread;
  std::shared_ptr<gofer::Client> client;
  std::unique_ptr<sentry::memory::MemoryFile> mf;
  std::unique_ptr<VirtualFilesystem> vfs;
  sentry::vfs::AccessCreds creds = sentry::vfs::AccessCreds::Root();
  PathContext ctx;

  bool Start() {
    dir = gofer::testing::MakeTempDir("vfs-bench");
    if (dir.empty()) return false;
    std::string p = dir;
    for (const char* c : {"/usr", "/usr/lib", "/usr/lib/x86", "/usr/lib/x86/bench", "/tmp"}) {
      if (mkdir((dir + c).c_str(), 0755) != 0) return false;
    }
    if (!gofer::testing::WriteFile(dir + kHostPath, std::string(1 << 16, 'h'))) return false;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return false;
    gofer::ServerOptions so;
    so.read_only = true;
    auto server = gofer::Server::CreateFromPath(dir, so);
    if (!server.ok()) return false;
    server_thread = std::thread([s = std::move(*server), fd = sv[1]]() mutable {
      (void)s->Serve(fd);
      close(fd);
    });
    client = std::make_shared<gofer::Client>(gofer::UniqueFd(sv[0]), gofer::ClientOptions{30000});
    auto m = sentry::memory::MemoryFile::Create(uint64_t{1} << 30);
    if (!m.ok()) return false;
    mf = std::move(*m);
    sentry::fsimpl::gofer::GoferOptions go;
    go.memory_file = mf.get();
    auto lower = sentry::fsimpl::gofer::GoferFilesystem::Create(client, go);
    if (!lower.ok()) return false;
    auto upper = sentry::fsimpl::tmpfs::TmpfsFilesystem::Create(*mf);
    vfs = std::make_unique<VirtualFilesystem>(
        sentry::fsimpl::overlay::OverlayFilesystem::Create(*lower, upper));
    ctx = {vfs->Root(), vfs->Root(), &creds, 022};
    auto fd = vfs->Open(ctx, kTmpPath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (!fd.ok()) return false;
    std::string data(1 << 16, 't');
    iovec v{data.data(), data.size()};
    return (*fd)->Writev(nullptr, {&v, 1}, 0).ok();
  }

  ~Sandbox() {
    ctx = {};
    vfs.reset();
    client.reset();  // the server sees the hangup and returns
    if (server_thread.joinable()) server_thread.join();
    if (!dir.empty()) gofer::testing::RemoveTree(dir);
  }
};

Sandbox* g_sandbox = nullptr;

const char* PathOf(const benchmark::State& state) { return state.range(0) ? kHostPath : kTmpPath; }

void BM_Stat(benchmark::State& state) {
  Sandbox& s = *g_sandbox;
  const char* path = PathOf(state);
  for (auto _ : state) {
    auto vd = s.vfs->Resolve(s.ctx, path, sentry::vfs::kFollow);
    if (!vd.ok()) {
      state.SkipWithError("resolve failed");
      return;
    }
    auto a = s.vfs->Stat(*vd);
    benchmark::DoNotOptimize(a);
  }
}

void BM_OpenClose(benchmark::State& state) {
  Sandbox& s = *g_sandbox;
  const char* path = PathOf(state);
  for (auto _ : state) {
    auto fd = s.vfs->Open(s.ctx, path, O_RDONLY, 0);
    if (!fd.ok()) {
      state.SkipWithError("open failed");
      return;
    }
    benchmark::DoNotOptimize(fd);
  }
}

void BM_Pread4k(benchmark::State& state) {
  Sandbox& s = *g_sandbox;
  auto fd = s.vfs->Open(s.ctx, PathOf(state), O_RDONLY, 0);
  if (!fd.ok()) {
    state.SkipWithError("open failed");
    return;
  }
  static char buf[4096];
  int64_t off = 0;
  for (auto _ : state) {
    iovec v{buf, sizeof(buf)};
    auto n = (*fd)->Readv(nullptr, {&v, 1}, off);
    benchmark::DoNotOptimize(n);
    off = (off + 4096) % (1 << 16);
  }
}

// Arg 0: the tmp file; 1: the host file.
BENCHMARK(BM_Stat)->Arg(0)->Arg(1);
BENCHMARK(BM_OpenClose)->Arg(0)->Arg(1);
BENCHMARK(BM_Pread4k)->Arg(0)->Arg(1);

}  // namespace

int main(int argc, char** argv) {
  bool detect = false;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--deadlock_detection") == 0) {
      detect = true;
      for (int j = i; j + 1 < argc; ++j) argv[j] = argv[j + 1];
      --argc;
      break;
    }
  }
  if (!detect) absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  benchmark::Initialize(&argc, argv);
  Sandbox sandbox;
  if (!sandbox.Start()) {
    fprintf(stderr, "vfs_benchmark: setting up the sandbox's root failed\n");
    return 1;
  }
  g_sandbox = &sandbox;
  benchmark::RunSpecifiedBenchmarks();
  g_sandbox = nullptr;
  return 0;
}
