// File syscalls on a fresh directory under /tmp: every result printed, so the
// sandbox's run can be compared with the native one line by line. Nothing
// printed depends on the host (no inode numbers, times or absolute paths).
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "util.h"

static void Check(const char* what, long r) {
  if (r < 0) {
    Print("%s: -1 %s\n", what, strerrorname_np(errno));
  } else {
    Print("%s: %ld\n", what, r);
  }
}

static void Listing(const char* dir) {
  // getdents64 order is the filesystem's; print the names sorted.
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  char buf[4096];
  char names[64][64];
  int n = 0;
  long len;
  while ((len = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
    for (long off = 0; off < len;) {
      struct dirent64* d = (struct dirent64*)(buf + off);
      if (n < 64 && strlen(d->d_name) < 60) {
        strcpy(names[n], d->d_name);
        if (d->d_type == DT_DIR) strcat(names[n], "/");
        n++;
      }
      off += d->d_reclen;
    }
  }
  close(fd);
  for (int i = 0; i < n; ++i) {
    for (int j = i + 1; j < n; ++j) {
      if (strcmp(names[j], names[i]) < 0) {
        char tmp[64];
        memcpy(tmp, names[i], 64);
        memcpy(names[i], names[j], 64);
        memcpy(names[j], tmp, 64);
      }
    }
  }
  Print("ls %s:", dir);
  for (int i = 0; i < n; ++i) Print(" %s", names[i]);
  Print("\n");
}

static void StatLine(const char* path, int follow) {
  struct stat st;
  int r = follow ? stat(path, &st) : lstat(path, &st);
  if (r != 0) {
    Print("stat %s: -1 %s\n", path, strerrorname_np(errno));
    return;
  }
  // A directory's size is the filesystem's own (ext4 4096, tmpfs 20 per entry).
  Print("stat %s: mode %o nlink %ld size %ld\n", path, st.st_mode, (long)st.st_nlink,
        S_ISDIR(st.st_mode) ? -1L : (long)st.st_size);
}

int main(void) {
  char dir[] = "/tmp/sandbox-files-XXXXXX";
  if (mkdtemp(dir) == NULL) return 1;
  Check("chdir", chdir(dir));
  umask(022);

  // Files: create, write, read back, offsets, append, truncate.
  int fd = open("a", O_RDWR | O_CREAT | O_EXCL, 0666);
  Check("open a", fd >= 0 ? 0 : -1);
  Check("write", write(fd, "hello world", 11));
  Check("lseek cur", lseek(fd, 0, SEEK_CUR));
  Check("lseek set", lseek(fd, 6, SEEK_SET));
  char buf[64] = {0};
  Check("read", read(fd, buf, sizeof(buf)));
  Print("read: %s\n", buf);
  Check("pwrite", pwrite(fd, "W", 1, 6));
  memset(buf, 0, sizeof(buf));
  Check("pread", pread(fd, buf, 5, 6));
  Print("pread: %s\n", buf);
  Check("lseek end", lseek(fd, 0, SEEK_END));
  Check("lseek neg", lseek(fd, -100, SEEK_SET));
  Check("ftruncate", ftruncate(fd, 3));
  Check("lseek end after truncate", lseek(fd, 0, SEEK_END));
  Check("fcntl getfl", fcntl(fd, F_GETFL));
  Check("close", close(fd));
  Check("open excl again", open("a", O_RDWR | O_CREAT | O_EXCL, 0666));
  fd = open("a", O_WRONLY | O_APPEND);
  Check("append", write(fd, "++", 2));
  close(fd);
  StatLine("a", 1);
  Check("open a/ ", open("a/", O_RDONLY));
  Check("open a O_DIRECTORY", open("a", O_RDONLY | O_DIRECTORY));
  Check("open missing", open("missing", O_RDONLY));
  Check("open . for write", open(".", O_WRONLY));
  Check("creat", fd = creat("b", 0600));
  close(fd);
  StatLine("b", 1);

  // Directories.
  Check("mkdir d", mkdir("d", 0750));
  Check("mkdir d again", mkdir("d", 0750));
  Check("mkdir d/e/", mkdir("d/e/", 0777));
  StatLine("d", 1);
  Check("rmdir d", rmdir("d"));
  Check("unlink d", unlink("d"));
  Check("rmdir a", rmdir("a"));
  Check("rmdir d/e/.", rmdir("d/e/."));
  int dfd = open("d", O_RDONLY | O_DIRECTORY);
  Check("openat dirfd", fd = openat(dfd, "e/f", O_WRONLY | O_CREAT, 0644));
  close(fd);
  Check("fstatat dirfd", fstatat(dfd, "e/f", &(struct stat){0}, 0));
  Check("fchdir", fchdir(dfd));
  char cwd[4096];
  Check("getcwd", getcwd(cwd, sizeof(cwd)) ? 0 : -1);
  Print("cwd ends with /d: %d\n", strlen(cwd) > 2 && strcmp(cwd + strlen(cwd) - 2, "/d") == 0);
  Check("chdir ..", chdir(".."));
  close(dfd);
  Listing(".");
  Listing("d/e");

  // Links.
  Check("link", link("a", "a2"));
  StatLine("a", 1);
  Check("symlink", symlink("a", "s"));
  Check("symlink dangling", symlink("nowhere", "dangle"));
  memset(buf, 0, sizeof(buf));
  Check("readlink", readlink("s", buf, sizeof(buf)));
  Print("readlink: %s\n", buf);
  Check("readlink regular", readlink("a", buf, sizeof(buf)));
  StatLine("s", 1);
  StatLine("s", 0);
  Check("open nofollow", open("s", O_RDONLY | O_NOFOLLOW));
  Check("open dangling", open("dangle", O_RDONLY));
  Check("symlink loop", symlink("loop", "loop"));
  Check("open loop", open("loop", O_RDONLY));

  // Renames.
  Check("rename a2 c", rename("a2", "c"));
  Check("renameat2 noreplace", syscall(SYS_renameat2, AT_FDCWD, "c", AT_FDCWD, "b", RENAME_NOREPLACE));
  Check("renameat2 exchange", syscall(SYS_renameat2, AT_FDCWD, "c", AT_FDCWD, "b", RENAME_EXCHANGE));
  StatLine("b", 1);
  StatLine("c", 1);
  Check("rename dir into itself", rename("d", "d/e/x"));
  Check("rename file over dir", rename("b", "d"));
  Check("rename dir over file", rename("d", "b"));
  Listing(".");

  // Attributes.
  Check("chmod", chmod("b", 04755));
  StatLine("b", 1);
  Check("access rw", access("b", R_OK | W_OK));
  Check("access missing", access("missing", F_OK));
  Check("truncate", truncate("b", 5000));
  StatLine("b", 1);
  Check("truncate dir", truncate("d", 0));
  Check("utimensat", utimensat(AT_FDCWD, "b", NULL, 0));

  // Clean up.
  const char* files[] = {"a", "b", "c", "s", "dangle", "loop", "d/e/f"};
  for (unsigned i = 0; i < sizeof(files) / sizeof(files[0]); ++i) Check(files[i], unlink(files[i]));
  Check("rmdir d/e", rmdir("d/e"));
  Check("rmdir d", rmdir("d"));
  Check("chdir /", chdir("/"));
  Check("rmdir dir", rmdir(dir));
  return 0;
}
