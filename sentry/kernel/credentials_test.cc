#include "sentry/kernel/credentials.h"

#include <linux/capability.h>
#include <sys/stat.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sentry::kernel {
namespace {

constexpr uint32_t kNobody = 65534;

Credentials Root() { return Credentials::ForInit(0, 0, {}); }
Credentials User(uint32_t uid) { return Credentials::ForInit(uid, uid, {}); }

// The errno of a failed transition, or 0.
template <typename T>
int ErrnoOf(const ErrnoOr<T>& r) {
  return r.ok() ? 0 : r.error().value();
}

TEST(CredentialsTest, InitSets) {
  const Credentials root = Root();
  EXPECT_EQ(root.cap_permitted, kAllCapabilities);
  EXPECT_EQ(root.cap_effective, kAllCapabilities);
  EXPECT_EQ(root.cap_bounding, kAllCapabilities);
  EXPECT_EQ(root.cap_inheritable, 0u);
  EXPECT_EQ(root.cap_ambient, 0u);
  EXPECT_EQ(kAllCapabilities, 0x1ffffffffffu);
  const Credentials user = Credentials::ForInit(1000, 100, {7, 3});
  EXPECT_EQ(user.cap_permitted, 0u);
  EXPECT_EQ(user.cap_effective, 0u);
  EXPECT_EQ(user.cap_bounding, kAllCapabilities);
  EXPECT_THAT(user.groups, testing::ElementsAre(3, 7));
  EXPECT_TRUE(user.InGroup(100));
  EXPECT_TRUE(user.InGroup(7));
  EXPECT_FALSE(user.InGroup(5));
}

TEST(CredentialsTest, AccessCarriesTheFileCapabilities) {
  Credentials c = Root();
  c.cap_effective &= ~CapMask(CAP_DAC_OVERRIDE);
  const vfs::AccessCreds a = c.Access();
  EXPECT_FALSE(a.cap_dac_override);
  EXPECT_TRUE(a.cap_dac_read_search);
  EXPECT_TRUE(a.cap_fowner && a.cap_chown && a.cap_fsetid && a.cap_mknod && a.cap_sys_admin);
  EXPECT_FALSE(User(1000).Access().cap_fowner);
}

TEST(SetuidTest, RootDropsEverything) {
  auto r = SetUid(Root(), kNobody);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->ruid, kNobody);
  EXPECT_EQ(r->euid, kNobody);
  EXPECT_EQ(r->suid, kNobody);
  EXPECT_EQ(r->fsuid, kNobody);
  EXPECT_EQ(r->cap_permitted, 0u);
  EXPECT_EQ(r->cap_effective, 0u);
  EXPECT_EQ(r->cap_bounding, kAllCapabilities);
}

TEST(SetuidTest, KeepCapsKeepsPermittedButNotEffective) {
  Credentials c = Root();
  c.securebits = kSecbitKeepCaps;
  auto r = SetResuid(c, kNobody, kNobody, kNobody);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->cap_permitted, kAllCapabilities);
  EXPECT_EQ(r->cap_effective, 0u);
}

TEST(SetuidTest, UnprivilegedRules) {
  Credentials c = User(1000);
  c.suid = 2000;
  EXPECT_EQ(ErrnoOf(SetUid(c, 3000)), EPERM);
  EXPECT_EQ(ErrnoOf(SetUid(c, kNoId)), EINVAL);
  auto r = SetUid(c, 2000);  // the saved uid: only the effective (and fs) uid changes
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->ruid, 1000u);
  EXPECT_EQ(r->euid, 2000u);
  EXPECT_EQ(r->suid, 2000u);
  EXPECT_EQ(r->fsuid, 2000u);
  EXPECT_EQ(ErrnoOf(SetResuid(c, 3000, kNoId, kNoId)), EPERM);
  EXPECT_TRUE(SetResuid(c, 2000, 1000, 1000).ok());
  EXPECT_EQ(ErrnoOf(SetReuid(c, 2000, kNoId)), EPERM);  // real: only the real or effective
  EXPECT_TRUE(SetReuid(c, kNoId, 2000).ok());           // effective: any of the three
}

TEST(SetuidTest, SetreuidMovesTheSavedUid) {
  Credentials c = User(1000);
  c.euid = c.fsuid = 2000;
  c.suid = 3000;
  // Only the effective uid, set to the real one: the saved uid stays.
  auto r = SetReuid(c, kNoId, 1000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->suid, 3000u);
  // Set to anything else: the saved uid follows.
  r = SetReuid(c, kNoId, 3000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->suid, 3000u);
  EXPECT_EQ(r->euid, 3000u);
  r = SetReuid(c, 2000, kNoId);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->suid, 2000u);
}

TEST(SetuidTest, EffectiveRootComesAndGoes) {
  // Root with euid 1000 (saved 0): effective caps cleared, permitted kept.
  auto r = SetResuid(Root(), kNoId, 1000, kNoId);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->cap_effective, 0u);
  EXPECT_EQ(r->cap_permitted, kAllCapabilities);
  EXPECT_EQ(r->fsuid, 1000u);
  // Back to 0: the effective set is the permitted one again.
  r = SetResuid(*r, kNoId, 0, kNoId);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->cap_effective, kAllCapabilities);
}

TEST(SetuidTest, NoSetuidFixupKeepsTheSets) {
  Credentials c = Root();
  c.securebits = kSecbitNoSetuidFixup;
  auto r = SetUid(c, kNobody);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->cap_effective, kAllCapabilities);
}

TEST(SetuidTest, DroppingRootClearsAmbient) {
  Credentials c = Root();
  c.securebits = kSecbitKeepCaps;
  c.cap_inheritable = c.cap_ambient = CapMask(CAP_NET_RAW);
  auto r = SetResuid(c, kNobody, kNobody, kNobody);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->cap_ambient, 0u);
}

TEST(SetuidTest, ANoOpSetresuidChangesNothing) {
  Credentials c = Root();
  c.fsuid = 1000;
  c.cap_effective = 0;
  // euid equal but fsuid not: not a no-op, fsuid follows euid.
  auto r = SetResuid(c, kNoId, 0, kNoId);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->fsuid, 0u);
  c.fsuid = 0;
  r = SetResuid(c, 0, 0, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, c);
}

TEST(SetgidTest, Rules) {
  Credentials c = User(1000);
  EXPECT_EQ(ErrnoOf(SetGid(c, 5)), EPERM);
  EXPECT_EQ(ErrnoOf(SetGid(c, kNoId)), EINVAL);
  auto r = SetGid(Root(), 5);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rgid, 5u);
  EXPECT_EQ(r->sgid, 5u);
  EXPECT_EQ(r->fsgid, 5u);
  EXPECT_EQ(r->cap_effective, kAllCapabilities);  // gids never touch capabilities
  EXPECT_EQ(ErrnoOf(SetResgid(c, kNoId, 5, kNoId)), EPERM);
  EXPECT_EQ(ErrnoOf(SetRegid(c, 5, kNoId)), EPERM);
  EXPECT_EQ(ErrnoOf(SetGroups(c, {5})), EPERM);
  auto g = SetGroups(Root(), {9, 4});
  ASSERT_TRUE(g.ok());
  EXPECT_THAT(g->groups, testing::ElementsAre(4, 9));
}

TEST(SetfsuidTest, FsCapabilitiesFollowTheFsUid) {
  const Credentials r = SetFsuid(Root(), 1000);
  EXPECT_EQ(r.fsuid, 1000u);
  EXPECT_FALSE(r.HasCapability(CAP_DAC_OVERRIDE));
  EXPECT_FALSE(r.HasCapability(CAP_LINUX_IMMUTABLE));
  EXPECT_FALSE(r.HasCapability(CAP_MAC_OVERRIDE));
  EXPECT_TRUE(r.HasCapability(CAP_SYS_ADMIN));
  EXPECT_TRUE(r.HasCapability(CAP_SETUID));
  const Credentials back = SetFsuid(r, 0);
  EXPECT_EQ(back.cap_effective, kAllCapabilities);
  // Unprivileged: only one of the other three ids; refusals change nothing.
  Credentials u = User(1000);
  u.suid = 2000;
  EXPECT_EQ(SetFsuid(u, 3000), u);
  EXPECT_EQ(SetFsuid(u, 2000).fsuid, 2000u);
  EXPECT_EQ(SetFsuid(u, kNoId), u);
  EXPECT_EQ(SetFsgid(u, 3000), u);
}

TEST(CapsetTest, Rules) {
  const Credentials root = Root();
  const uint64_t all = kAllCapabilities;
  const uint64_t no_kill = all & ~CapMask(CAP_KILL);
  // Effective beyond the new permitted set.
  EXPECT_EQ(ErrnoOf(CapSet(root, all, no_kill, 0)), EPERM);
  auto r = CapSet(root, no_kill, no_kill, 0);
  ASSERT_TRUE(r.ok());
  // Permitted cannot grow back.
  EXPECT_EQ(ErrnoOf(CapSet(*r, no_kill, all, 0)), EPERM);
  // Bits past CAP_LAST_CAP are dropped.
  r = CapSet(root, ~uint64_t{0}, ~uint64_t{0}, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->cap_permitted, all);
  // Inheritable: without CAP_SETPCAP only what is permitted; never past the
  // bounding set.
  Credentials c = root;
  c.cap_effective = c.cap_permitted = CapMask(CAP_NET_RAW);
  EXPECT_EQ(ErrnoOf(CapSet(c, 0, CapMask(CAP_NET_RAW), CapMask(CAP_KILL))), EPERM);
  EXPECT_TRUE(CapSet(c, 0, CapMask(CAP_NET_RAW), CapMask(CAP_NET_RAW)).ok());
  Credentials b = root;
  b.cap_bounding &= ~CapMask(CAP_KILL);
  EXPECT_EQ(ErrnoOf(CapSet(b, all, all, CapMask(CAP_KILL))), EPERM);
  EXPECT_TRUE(CapSet(root, all, all, CapMask(CAP_KILL)).ok());
}

TEST(CapsetTest, AmbientFollowsPermittedAndInheritable) {
  Credentials c = Root();
  c.cap_inheritable = c.cap_ambient = CapMask(CAP_NET_RAW) | CapMask(CAP_KILL);
  auto r = CapSet(c, 0, kAllCapabilities & ~CapMask(CAP_KILL), c.cap_inheritable);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->cap_ambient, CapMask(CAP_NET_RAW));
}

TEST(PrctlCapsTest, Bounding) {
  EXPECT_EQ(ErrnoOf(DropBoundingCapability(User(1000), CAP_KILL)), EPERM);
  EXPECT_EQ(ErrnoOf(DropBoundingCapability(Root(), 41)), EINVAL);
  auto r = DropBoundingCapability(Root(), CAP_KILL);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->cap_bounding, kAllCapabilities & ~CapMask(CAP_KILL));
  EXPECT_EQ(r->cap_permitted, kAllCapabilities);  // only the bounding set
}

TEST(PrctlCapsTest, Securebits) {
  EXPECT_EQ(ErrnoOf(SetSecurebits(User(1000), kSecbitKeepCaps)), EPERM);
  EXPECT_EQ(ErrnoOf(SetSecurebits(Root(), 1 << 8)), EPERM);
  auto r = SetSecurebits(Root(), kSecbitKeepCaps | kSecbitKeepCapsLocked);
  ASSERT_TRUE(r.ok());
  // A locked bit cannot change, a lock cannot go.
  EXPECT_EQ(ErrnoOf(SetSecurebits(*r, kSecbitKeepCapsLocked)), EPERM);
  EXPECT_EQ(ErrnoOf(SetSecurebits(*r, kSecbitKeepCaps)), EPERM);
  EXPECT_TRUE(SetSecurebits(*r, kSecbitKeepCaps | kSecbitKeepCapsLocked | kSecbitNoroot).ok());
  EXPECT_EQ(ErrnoOf(SetKeepCaps(*r, 0)), EPERM);
  EXPECT_EQ(ErrnoOf(SetKeepCaps(Root(), 2)), EINVAL);
  auto k = SetKeepCaps(User(1000), 1);  // no privilege needed
  ASSERT_TRUE(k.ok());
  EXPECT_TRUE(k->IsSecure(kSecbitKeepCaps));
}

TEST(PrctlCapsTest, Ambient) {
  Credentials c = Root();
  EXPECT_EQ(ErrnoOf(RaiseAmbient(c, CAP_NET_RAW)), EPERM);  // not inheritable
  c.cap_inheritable = CapMask(CAP_NET_RAW);
  auto r = RaiseAmbient(c, CAP_NET_RAW);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->cap_ambient, CapMask(CAP_NET_RAW));
  EXPECT_EQ(LowerAmbient(*r, CAP_NET_RAW).cap_ambient, 0u);
  EXPECT_EQ(ClearAmbient(*r).cap_ambient, 0u);
  c.securebits = kSecbitNoCapAmbientRaise;
  EXPECT_EQ(ErrnoOf(RaiseAmbient(c, CAP_NET_RAW)), EPERM);
}

TEST(AccessOverrideTest, RealIds) {
  Credentials c = Root();
  c.euid = c.fsuid = 1000;
  c.cap_effective = 0;
  Credentials a = AccessOverride(c);
  EXPECT_EQ(a.fsuid, 0u);
  EXPECT_EQ(a.cap_effective, kAllCapabilities);
  Credentials u = User(1000);
  u.euid = u.fsuid = 0;
  u.cap_effective = u.cap_permitted = kAllCapabilities;
  EXPECT_EQ(AccessOverride(u).cap_effective, 0u);
  EXPECT_EQ(AccessOverride(u).fsuid, 1000u);
}

ExecFile Plain() { return ExecFile{S_IFREG | 0755, 0, 0, false}; }

TEST(ExecTest, RootKeepsFullCapabilities) {
  Credentials c = Root();
  c.cap_effective = 0;  // effective is recomputed
  const ExecTransition t = ExecCredentials(c, Plain(), {});
  EXPECT_EQ(t.creds.cap_permitted, kAllCapabilities);
  EXPECT_EQ(t.creds.cap_effective, kAllCapabilities);
  EXPECT_FALSE(t.secure);
  EXPECT_TRUE(t.dumpable);
}

TEST(ExecTest, RootRegainsDroppedPermittedUnlessNoNewPrivs) {
  auto dropped = CapSet(Root(), 0, 0, 0);
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(ExecCredentials(*dropped, Plain(), {}).creds.cap_permitted, kAllCapabilities);
  ExecConditions nnp;
  nnp.no_new_privs = true;
  EXPECT_EQ(ExecCredentials(*dropped, Plain(), nnp).creds.cap_permitted, 0u);
  // The bounding set limits what root gets.
  auto bounded = DropBoundingCapability(Root(), CAP_KILL);
  ASSERT_TRUE(bounded.ok());
  EXPECT_FALSE(ExecCredentials(*bounded, Plain(), {}).creds.HasCapability(CAP_KILL));
}

TEST(ExecTest, SecureNorootGivesRootNothing) {
  Credentials c = Root();
  c.securebits = kSecbitNoroot;
  const ExecTransition t = ExecCredentials(c, Plain(), {});
  EXPECT_EQ(t.creds.cap_permitted, 0u);
  EXPECT_EQ(t.creds.cap_effective, 0u);
}

TEST(ExecTest, NonRootKeepsOnlyAmbient) {
  Credentials c = User(1000);
  c.cap_inheritable = c.cap_permitted = CapMask(CAP_NET_RAW) | CapMask(CAP_KILL);
  c.cap_effective = c.cap_permitted;
  c.cap_ambient = CapMask(CAP_NET_RAW);
  c.securebits = kSecbitKeepCaps;
  const ExecTransition t = ExecCredentials(c, Plain(), {});
  EXPECT_EQ(t.creds.cap_permitted, CapMask(CAP_NET_RAW));
  EXPECT_EQ(t.creds.cap_effective, CapMask(CAP_NET_RAW));
  EXPECT_EQ(t.creds.cap_ambient, CapMask(CAP_NET_RAW));
  EXPECT_EQ(t.creds.securebits, 0u);  // KEEP_CAPS is cleared by exec
  EXPECT_FALSE(t.secure);
}

TEST(ExecTest, SetuidRootFromAUser) {
  const ExecFile suid_root{S_IFREG | S_ISUID | 0755, 0, 0, false};
  Credentials c = User(1000);
  const ExecTransition t = ExecCredentials(c, suid_root, {});
  EXPECT_EQ(t.creds.ruid, 1000u);
  EXPECT_EQ(t.creds.euid, 0u);
  EXPECT_EQ(t.creds.suid, 0u);
  EXPECT_EQ(t.creds.fsuid, 0u);
  EXPECT_EQ(t.creds.cap_permitted, kAllCapabilities);
  EXPECT_EQ(t.creds.cap_effective, kAllCapabilities);
  EXPECT_TRUE(t.secure);
  // Set-id bits mean nothing on a nosuid mount or under no_new_privs.
  ExecFile nosuid = suid_root;
  nosuid.nosuid_mount = true;
  const ExecTransition n = ExecCredentials(c, nosuid, {});
  EXPECT_EQ(n.creds.euid, 1000u);
  EXPECT_EQ(n.creds.cap_permitted, 0u);
  EXPECT_FALSE(n.secure);
  ExecConditions nnp;
  nnp.no_new_privs = true;
  EXPECT_EQ(ExecCredentials(c, suid_root, nnp).creds.euid, 1000u);
  // A shared fs context: the ids stay, capabilities are not gained.
  ExecConditions shared;
  shared.shared_fs = true;
  const ExecTransition s = ExecCredentials(c, suid_root, shared);
  EXPECT_EQ(s.creds.euid, 1000u);
  EXPECT_EQ(s.creds.cap_permitted, 0u);
}

TEST(ExecTest, SetuidToAUserClearsAmbientAndIsSecure) {
  const ExecFile suid_user{S_IFREG | S_ISUID | 0755, 2000, 0, false};
  Credentials c = User(1000);
  c.cap_inheritable = c.cap_permitted = c.cap_ambient = CapMask(CAP_NET_RAW);
  const ExecTransition t = ExecCredentials(c, suid_user, {});
  EXPECT_EQ(t.creds.euid, 2000u);
  EXPECT_EQ(t.creds.suid, 2000u);
  EXPECT_EQ(t.creds.cap_ambient, 0u);
  EXPECT_EQ(t.creds.cap_permitted, 0u);
  EXPECT_TRUE(t.secure);
}

TEST(ExecTest, SetgidNeedsGroupExecute) {
  Credentials c = User(1000);
  const ExecFile sgid{S_IFREG | S_ISGID | 0755, 0, 50, false};
  EXPECT_EQ(ExecCredentials(c, sgid, {}).creds.egid, 50u);
  EXPECT_EQ(ExecCredentials(c, sgid, {}).creds.sgid, 50u);
  EXPECT_TRUE(ExecCredentials(c, sgid, {}).secure);
  const ExecFile locking{S_IFREG | S_ISGID | 0705, 0, 50, false};
  EXPECT_EQ(ExecCredentials(c, locking, {}).creds.egid, 1000u);
}

TEST(ExecTest, DifferingIdsMakeTheNewImageSecureAndNotDumpable) {
  Credentials c = User(1000);
  c.euid = c.fsuid = 2000;  // e.g. after setreuid
  const ExecTransition t = ExecCredentials(c, Plain(), {});
  EXPECT_EQ(t.creds.suid, 2000u);
  EXPECT_TRUE(t.secure);
  EXPECT_FALSE(t.dumpable);
}

TEST(ExecTest, RealRootWithAnotherEuidGetsPermittedNotEffective) {
  auto c = SetResuid(Root(), kNoId, 1000, kNoId);
  ASSERT_TRUE(c.ok());
  const ExecTransition t = ExecCredentials(*c, Plain(), {});
  EXPECT_EQ(t.creds.cap_permitted, kAllCapabilities);
  EXPECT_EQ(t.creds.cap_effective, 0u);
  EXPECT_EQ(t.creds.suid, 1000u);
}

TEST(PtraceMayAccessTest, SameIdsNeedDumpabilityAndNoExtraCapabilities) {
  EXPECT_TRUE(PtraceMayAccess(User(1000), User(1000), /*target_dumpable=*/true, false));
  EXPECT_FALSE(PtraceMayAccess(User(1000), User(1000), /*target_dumpable=*/false, false));
  // A target holding a capability the caller lacks (commoncap).
  Credentials target = User(1000);
  target.cap_permitted = CapMask(CAP_NET_RAW);
  EXPECT_FALSE(PtraceMayAccess(User(1000), target, true, false));
}

TEST(PtraceMayAccessTest, AllThreeIdsMustMatch) {
  EXPECT_FALSE(PtraceMayAccess(User(1000), User(1001), true, false));
  Credentials target = User(1000);
  target.suid = 0;  // a set-user-ID program that kept its saved id
  EXPECT_FALSE(PtraceMayAccess(User(1000), target, true, false));
  // The fs ids stand in for the real ones with fscreds.
  Credentials caller = User(1000);
  caller.ruid = 5;
  EXPECT_FALSE(PtraceMayAccess(caller, User(1000), true, false));
  EXPECT_TRUE(PtraceMayAccess(caller, User(1000), true, true));
}

TEST(PtraceMayAccessTest, CapSysPtraceOverridesEverything) {
  Credentials target = Root();
  target.suid = 7;
  EXPECT_TRUE(PtraceMayAccess(Root(), target, /*target_dumpable=*/false, false));
  EXPECT_FALSE(PtraceMayAccess(User(1000), Root(), true, false));
}

}  // namespace
}  // namespace sentry::kernel
