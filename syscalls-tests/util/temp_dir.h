// A fresh directory under /tmp or another parent (/dev/shm), mode 0755 so that
// an unprivileged child may look in, removed with everything in it when the
// object goes out of scope.
//
//   TempDir dir;
//   ASSERT_TRUE(dir.ok());
//   const std::string f = dir.Path("f");
#ifndef SYSCALLS_TESTS_UTIL_TEMP_DIR_H_
#define SYSCALLS_TESTS_UTIL_TEMP_DIR_H_

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace syscalls_test {

class TempDir {
 public:
  // `parent`: where to make it (/dev/shm for a tmpfs natively as well).
  explicit TempDir(const char* prefix = "syscalls-test", const char* parent = "/tmp") {
    std::string tmpl = std::string(parent) + "/" + prefix + "-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) return;
    path_ = tmpl;
    chmod(path_.c_str(), 0755);
  }
  ~TempDir() {
    if (!path_.empty()) RemoveTree(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }
  // `name` inside the directory.
  std::string Path(const std::string& name) const { return path_ + "/" + name; }
  // Creates (or truncates) `name` with `data`; its path, or "" on failure.
  std::string File(const std::string& name, const std::string& data = "",
                   mode_t mode = 0644) const {
    const std::string p = Path(name);
    const int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) return "";
    const bool ok = write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
    close(fd);
    return ok ? p : "";
  }

  // Removes `path` and, when it is a directory, all below it (best effort).
  static void RemoveTree(const std::string& path) {
    const int saved = errno;
    struct stat st;
    if (lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      chmod(path.c_str(), 0700);
      if (DIR* d = opendir(path.c_str())) {
        while (struct dirent* e = readdir(d)) {
          const std::string n = e->d_name;
          if (n != "." && n != "..") RemoveTree(path + "/" + n);
        }
        closedir(d);
      }
      rmdir(path.c_str());
    } else {
      unlink(path.c_str());
    }
    errno = saved;
  }

 private:
  std::string path_;
};

}  // namespace syscalls_test

#endif  // SYSCALLS_TESTS_UTIL_TEMP_DIR_H_
