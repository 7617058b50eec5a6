// The Sentry's vDSO (README.md): the image built from vdso.c at build time
// and embedded in the Sentry, and one instance of it in a memory file — the
// image's pages and the [vvar] pages whose first page the Timekeeper keeps
// up to date — for the loader to map into every process.
#ifndef SENTRY_ARCH_VDSO_VDSO_H_
#define SENTRY_ARCH_VDSO_VDSO_H_

#include <cstdint>
#include <memory>
#include <span>

#include "sentry/arch/vdso/vvar.h"
#include "sentry/base/errno.h"
#include "sentry/memory/mappable.h"
#include "sentry/memory/memory_file.h"
#include "sentry/time/timekeeper.h"

namespace sentry::arch {

// The ELF image (linux-vdso.so.1), as built.
std::span<const uint8_t> VdsoImage();

class Vdso {
 public:
  // Copies the image into `mf`, sets up the [vvar] pages (`num_cpus` for
  // getcpu) and has `tk` publish its parameters there. ENOMEM if `mf` is full.
  static ErrnoOr<std::unique_ptr<Vdso>> Create(memory::MemoryFile& mf, time::Timekeeper& tk,
                                               uint32_t num_cpus);
  // Stops the publishing. Mappings made from it keep their pages.
  ~Vdso();
  Vdso(const Vdso&) = delete;
  Vdso& operator=(const Vdso&) = delete;

  // [vdso]: the image, page-rounded, to map read+exec (private: a write
  // after mprotect copies, as on Linux).
  const std::shared_ptr<memory::Mappable>& image() const { return image_; }
  uint64_t image_size() const;
  // [vvar]: SANDBOX_VVAR_SIZE bytes right below [vdso], read-only for good.
  const std::shared_ptr<memory::Mappable>& vvar() const { return vvar_; }
  static constexpr uint64_t vvar_size() { return SANDBOX_VVAR_SIZE; }
  // The parameters as the guest sees them (the Sentry's view).
  const sandbox_vvar& params() const { return *params_; }

 private:
  Vdso(time::Timekeeper& tk, std::shared_ptr<memory::Mappable> image,
       std::shared_ptr<memory::Mappable> vvar, sandbox_vvar* params);

  time::Timekeeper& tk_;
  std::shared_ptr<memory::Mappable> image_;
  std::shared_ptr<memory::Mappable> vvar_;
  sandbox_vvar* params_;
};

}  // namespace sentry::arch

#endif  // SENTRY_ARCH_VDSO_VDSO_H_
