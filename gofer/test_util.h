// Helpers for the gofer tests: temporary trees and a server on a socketpair.
#ifndef GOFER_TEST_UTIL_H_
#define GOFER_TEST_UTIL_H_

#include <string>

namespace gofer::testing {

// A fresh directory under /tmp, removed (recursively) by RemoveTree.
std::string MakeTempDir(const std::string& prefix);
void RemoveTree(const std::string& path);
// Writes `content` to `path` (created or truncated); false on failure.
bool WriteFile(const std::string& path, const std::string& content);
std::string ReadFd(int fd);

// Removes a tree when it goes out of scope (also when an ASSERT returns early).
struct TreeCleanup {
  std::string path;
  ~TreeCleanup() { RemoveTree(path); }
};

}  // namespace gofer::testing

#endif  // GOFER_TEST_UTIL_H_
