// Hammers /proc, /sys and /dev with odd sizes, offsets, seeks, directory
// positions and modifications that must fail, and prints only "done": the
// kernel must survive all of it (results differ between kernels and are not
// compared). Nothing here changes the host when run natively: writes go only
// to this process's comm (restored) and to files that refuse them.
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "util.h"

static const char* const kFiles[] = {
    "/proc/self/stat",
    "/proc/self/status",
    "/proc/self/statm",
    "/proc/self/maps",
    "/proc/self/smaps",
    "/proc/self/cmdline",
    "/proc/self/environ",
    "/proc/self/auxv",
    "/proc/self/comm",
    "/proc/self/limits",
    "/proc/self/mounts",
    "/proc/self/mountinfo",
    "/proc/self/fdinfo/0",
    "%task",
    "/proc/cpuinfo",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/version",
    "/proc/filesystems",
    "/proc/mounts",
    "/proc/sys/kernel/hostname",
    "/proc/sys/kernel/osrelease",
    "/proc/sys/kernel/random/uuid",
    "/proc/sys/kernel/random/boot_id",
    "/proc/sys/vm/overcommit_memory",
    "/sys/devices/system/cpu/online",
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/urandom",
};

static const char* const kLinks[] = {
    "/proc/self",      "/proc/thread-self", "/proc/self/exe",  "/proc/self/cwd",
    "/proc/self/root", "/proc/self/fd/0",   "/proc/self/fd/1", "/proc/self/fd/2",
    "/proc/mounts",    "/dev/fd",           "/dev/stdin",
};

static const char* const kDirs[] = {
    "/proc",
    "/proc/self",
    "/proc/self/fd",
    "/proc/self/fdinfo",
    "/proc/self/task",
    "/proc/sys",
    "/proc/sys/kernel",
    "/sys/devices/system/cpu",
    "/dev",
};

static char buf[1 << 16];

static void Hammer(const char* path) {
  for (int mode = 0; mode < 2; ++mode) {
    int fd = open(path, mode == 0 ? O_RDONLY : O_RDONLY | O_NONBLOCK);
    if (fd < 0) continue;
    static const size_t kSizes[] = {0, 1, 3, 4096, sizeof(buf)};
    for (size_t s = 0; s < sizeof(kSizes) / sizeof(kSizes[0]); ++s) {
      lseek(fd, 0, SEEK_SET);
      for (int i = 0; i < 64 && read(fd, buf, kSizes[s]) > 0; ++i) {
      }
    }
    static const off_t kOffsets[] = {
        0, 1, 4095, 1 << 20, (off_t)1 << 40, LLONG_MAX - 1, LLONG_MAX, -1, LLONG_MIN};
    for (size_t o = 0; o < sizeof(kOffsets) / sizeof(kOffsets[0]); ++o) {
      pread(fd, buf, 100, kOffsets[o]);
      pread(fd, buf, 0, kOffsets[o]);
      for (int whence = 0; whence <= 5; ++whence) {
        lseek(fd, kOffsets[o], whence);
        read(fd, buf, 10);
      }
      lseek(fd, kOffsets[o], 99);
    }
    lseek(fd, LLONG_MAX, SEEK_SET);
    lseek(fd, LLONG_MAX, SEEK_CUR);
    read(fd, buf, sizeof(buf));
    syscall(SYS_read, fd, (void*)8, 100);       // unmapped buffer
    syscall(SYS_read, fd, (void*)-4096L, 100);  // kernel address
    syscall(SYS_pread64, fd, (void*)8, 100, 0);
    struct stat st;
    fstat(fd, &st);
    syscall(SYS_ioctl, fd, 0x541b /* FIONREAD */, buf);
    syscall(SYS_ioctl, fd, 0x80045200 /* RNDGETENTCNT */, (void*)8);
    close(fd);
  }
  // Writes, truncation, attribute changes: refused, or harmless to this
  // process alone. Only under /proc/self: natively, root could change the
  // host's sysctls or the modes of its global /proc files.
  // Never through a link: natively, root would change what /proc/self/fd/0,
  // cwd, root or exe point at (the host's /dev/null, say).
  struct stat lst;
  const int is_link = lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode);
  if (strncmp(path, "/proc/self/", 11) == 0 && strstr(path, "comm") == NULL && !is_link &&
      strstr(path, "/fd/") == NULL && strstr(path, "/cwd") == NULL &&
      strstr(path, "/root") == NULL && strstr(path, "/exe") == NULL) {
    int fd = open(path, O_WRONLY);
    if (fd >= 0) {
      write(fd, "0", 1);
      write(fd, "", 0);
      close(fd);
    }
    fchmodat(AT_FDCWD, path, 0777, AT_SYMLINK_NOFOLLOW);
    lchown(path, 12345, 12345);
    truncate(path, 0);
    unlink(path);
    rename(path, "/proc/renamed");
    link(path, "/proc/linked");
  }
}

static void Links(void) {
  for (size_t i = 0; i < sizeof(kLinks) / sizeof(kLinks[0]); ++i) {
    readlink(kLinks[i], buf, 1);
    readlink(kLinks[i], buf, 0);
    readlink(kLinks[i], buf, sizeof(buf));
    syscall(SYS_readlink, kLinks[i], (void*)8, 100);
    struct stat st;
    lstat(kLinks[i], &st);
    stat(kLinks[i], &st);
    int fd = open(kLinks[i], O_PATH | O_NOFOLLOW);
    if (fd >= 0) {
      syscall(SYS_readlinkat, fd, "", buf, sizeof(buf));
      close(fd);
    }
  }
}

static void Dirs(void) {
  for (size_t i = 0; i < sizeof(kDirs) / sizeof(kDirs[0]); ++i) {
    int fd = open(kDirs[i], O_RDONLY | O_DIRECTORY);
    if (fd < 0) continue;
    static const size_t kSizes[] = {1, 19, 24, 32, 100, sizeof(buf)};
    for (size_t s = 0; s < sizeof(kSizes) / sizeof(kSizes[0]); ++s) {
      lseek(fd, 0, SEEK_SET);
      for (int n = 0; n < 256 && syscall(SYS_getdents64, fd, buf, kSizes[s]) > 0; ++n) {
      }
    }
    static const off_t kPos[] = {2, 3, 7, 100, (off_t)1 << 32, ((off_t)1 << 32) + 1, LLONG_MAX, -1};
    for (size_t p = 0; p < sizeof(kPos) / sizeof(kPos[0]); ++p) {
      lseek(fd, kPos[p], SEEK_SET);
      syscall(SYS_getdents64, fd, buf, sizeof(buf));
      lseek(fd, kPos[p], SEEK_CUR);
      lseek(fd, kPos[p], SEEK_END);
    }
    read(fd, buf, 10);
    write(fd, buf, 10);
    close(fd);
    // Nothing can be made or removed here.
    char p[256];
    snprintf(p, sizeof(p), "%s/newdir", kDirs[i]);
    if (strncmp(kDirs[i], "/dev", 4) != 0) {
      mkdir(p, 0755);
      rmdir(p);
      open(p, O_CREAT | O_WRONLY, 0644);
      symlink("x", p);
      mknod(p, S_IFIFO | 0644, 0);
      rmdir(kDirs[i]);
    }
  }
}

static void Names(void) {
  static const char* const kNames[] = {
      "/proc/0",
      "/proc/-1",
      "/proc/01",
      "/proc/4294967297",
      "/proc/99999999999999999999",
      "/proc/self/fd/-1",
      "/proc/self/fd/99999999999999999999",
      "/proc/self/fd/01",
      "/proc/self/fd/ 1",
      "/proc/self/fd/1/x",
      "/proc/self/task/0",
      "/proc/self/task/1/task",
      "/proc/self/../self/./stat",
      "/proc/self/fd/../../self/fd/0",
      "/proc/sys/kernel/random/uuid/",
      "/dev/fd/0/",
      "/dev/fd/99999",
  };
  for (size_t i = 0; i < sizeof(kNames) / sizeof(kNames[0]); ++i) {
    int fd = open(kNames[i], O_RDONLY);
    if (fd >= 0) {
      read(fd, buf, sizeof(buf));
      close(fd);
    }
    struct stat st;
    stat(kNames[i], &st);
    readlink(kNames[i], buf, sizeof(buf));
  }
  // The fd table changing under /proc/self/fd.
  for (int i = 0; i < 50; ++i) {
    int fd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY);
    int extra = dup2(fd, 200 + i);
    syscall(SYS_getdents64, fd, buf, 64);
    close(extra);
    syscall(SYS_getdents64, fd, buf, sizeof(buf));
    char p[64];
    snprintf(p, sizeof(p), "/proc/self/fdinfo/%d", fd);
    int info = open(p, O_RDONLY);
    close(fd);
    if (info >= 0) {
      read(info, buf, sizeof(buf));
      close(info);
    }
  }
}

static void Comm(void) {
  char old[64] = {0};
  int fd = open("/proc/self/comm", O_RDONLY);
  read(fd, old, sizeof(old) - 1);
  close(fd);
  fd = open("/proc/self/comm", O_WRONLY);
  static char big[1 << 20];
  memset(big, 'z', sizeof(big));
  write(fd, big, sizeof(big));
  write(fd, "", 0);
  write(fd, "a\0b", 3);
  syscall(SYS_write, fd, (void*)8, 100);
  write(fd, old, strlen(old) > 0 ? strlen(old) - 1 : 0);  // without the newline
  close(fd);
}

int main(void) {
  char task_stat[64];
  snprintf(task_stat, sizeof(task_stat), "/proc/self/task/%d/stat", getpid());
  for (int round = 0; round < 2; ++round) {
    for (size_t i = 0; i < sizeof(kFiles) / sizeof(kFiles[0]); ++i) {
      Hammer(kFiles[i][0] == '%' ? task_stat : kFiles[i]);
    }
    Links();
    Dirs();
    Names();
    Comm();
  }
  Print("done\n");
  return 0;
}
