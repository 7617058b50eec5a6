#include "sentry/fsimpl/sys/sys.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_format.h"
#include "sentry/fsimpl/kernfs/kernfs.h"

namespace sentry::fsimpl::sys {
namespace {

constexpr int64_t kSysfsMagic = 0x62656572;

class SysFilesystem : public kernfs::SyntheticFilesystem {
 public:
  SysFilesystem() : SyntheticFilesystem("sysfs", kSysfsMagic, 4096) {}

  void Build(int num_cpus) {
    // sysfs directories are 0755; attributes without a store method are
    // 0444, and opening them for writing is EACCES even for root.
    auto dir = [this](uint64_t parent) {
      return std::make_shared<kernfs::StaticDirectory>(*this, NextIno(), 0755, parent);
    };
    auto attr = [this](std::string text) {
      return std::make_shared<kernfs::GeneratedFile>(
          *this, NextIno(), 0444,
          [text = std::move(text)]() -> ErrnoOr<std::string> { return text; }, nullptr,
          /*deny_write_open=*/true);
    };
    auto root = dir(0);
    auto devices = dir(root->ino());
    auto system = dir(devices->ino());
    auto cpu = dir(system->ino());
    const int n = std::max(num_cpus, 1);
    const std::string range = n == 1 ? "0\n" : absl::StrFormat("0-%d\n", n - 1);
    cpu->Add("online", attr(range));
    cpu->Add("possible", attr(range));
    cpu->Add("present", attr(range));
    system->Add("cpu", cpu);
    devices->Add("system", system);
    root->Add("devices", devices);
    set_root(std::move(root));
  }
};

}  // namespace

std::shared_ptr<vfs::Filesystem> NewSysFilesystem(int num_cpus) {
  auto fs = std::make_shared<SysFilesystem>();
  fs->Build(num_cpus);
  return fs;
}

}  // namespace sentry::fsimpl::sys
