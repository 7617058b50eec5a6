#include "sentry/arch/vdso/vdso.h"

#include <cstring>
#include <utility>
#include <vector>

#include "sentry/base/log.h"
#include "sentry/base/status_macros.h"

// The image, from vdso_image.S (.incbin of the built vdso.so).
extern "C" const uint8_t sandbox_vdso_image_start[];
extern "C" const uint8_t sandbox_vdso_image_end[];

namespace sentry::arch {
namespace {

constexpr uint64_t kPage = 4096;

// Pages of the memory file that never change owner or size: the vDSO's
// image and its [vvar] pages. Shared by every process that maps them.
class FixedPages : public memory::Mappable {
 public:
  FixedPages(memory::MemoryFile& mf, memory::FileRange r) : mf_(mf), range_(r) {}
  ~FixedPages() override { mf_.DecRef(range_); }

  uint64_t Size() const override { return range_.Length(); }
  ErrnoOrOk Get(uint64_t start, uint64_t end, bool writable,
                std::vector<std::pair<uint64_t, memory::FileRange>>* out) override {
    (void)writable;
    end = std::min(end, range_.Length());
    if (start >= end) return Ok();
    const memory::FileRange piece{range_.start + start, range_.start + end};
    mf_.IncRef(piece);
    out->push_back({start, piece});
    return Ok();
  }
  bool Has(uint64_t offset) const override { return offset < range_.Length(); }
  ErrnoOrOk Zero(uint64_t start, uint64_t end) override {
    (void)start, (void)end;
    return Errno(EINVAL);
  }

 private:
  memory::MemoryFile& mf_;
  const memory::FileRange range_;
};

}  // namespace

std::span<const uint8_t> VdsoImage() { return {sandbox_vdso_image_start, sandbox_vdso_image_end}; }

uint64_t Vdso::image_size() const { return image_->Size(); }

ErrnoOr<std::unique_ptr<Vdso>> Vdso::Create(memory::MemoryFile& mf, time::Timekeeper& tk,
                                            uint32_t num_cpus) {
  const std::span<const uint8_t> image = VdsoImage();
  const uint64_t image_len = (image.size() + kPage - 1) & ~(kPage - 1);
  ASSIGN_OR_RETURN(memory::FileRange image_range, mf.Allocate(image_len));
  std::memcpy(mf.Internal(image_range.start), image.data(), image.size());
  auto image_pages = std::make_shared<FixedPages>(mf, image_range);

  ASSIGN_OR_RETURN(memory::FileRange vvar_range, mf.Allocate(SANDBOX_VVAR_SIZE));
  auto vvar_pages = std::make_shared<FixedPages>(mf, vvar_range);
  auto* params = reinterpret_cast<sandbox_vvar*>(mf.Internal(vvar_range.start));
  params->coarse_res_ns = time::Timekeeper::CoarseResolutionNs();
  params->num_cpus = num_cpus;
  tk.AddMirror(params);
  return std::unique_ptr<Vdso>(new Vdso(tk, std::move(image_pages), std::move(vvar_pages), params));
}

Vdso::Vdso(time::Timekeeper& tk, std::shared_ptr<memory::Mappable> image,
           std::shared_ptr<memory::Mappable> vvar, sandbox_vvar* params)
    : tk_(tk), image_(std::move(image)), vvar_(std::move(vvar)), params_(params) {}

Vdso::~Vdso() { tk_.RemoveMirror(params_); }

}  // namespace sentry::arch
