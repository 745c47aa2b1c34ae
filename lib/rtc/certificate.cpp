#include "lib/rtc/certificate.hpp"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <mutex>

#include "lib/base/ascii.hpp"

namespace collab::rtc {

using base::Error;
using base::kExitDataErr;
using base::kExitSoftware;
using base::MakeError;
using base::Result;

namespace {

struct HashInfo {
  CertificateFingerprint::Hash hash;
  const char* name;
  size_t size;
};

constexpr HashInfo kHashes[] = {
    {CertificateFingerprint::Hash::kSha1, "sha-1", 20},
    {CertificateFingerprint::Hash::kSha256, "sha-256", 32},
    {CertificateFingerprint::Hash::kSha384, "sha-384", 48},
    {CertificateFingerprint::Hash::kSha512, "sha-512", 64},
};

const HashInfo& Info(CertificateFingerprint::Hash hash) {
  for (const auto& h : kHashes)
    if (h.hash == hash) return h;
  return kHashes[1];
}

const EVP_MD* Md(CertificateFingerprint::Hash hash) {
  switch (hash) {
    case CertificateFingerprint::Hash::kSha1: return EVP_sha1();
    case CertificateFingerprint::Hash::kSha256: return EVP_sha256();
    case CertificateFingerprint::Hash::kSha384: return EVP_sha384();
    case CertificateFingerprint::Hash::kSha512: return EVP_sha512();
  }
  return EVP_sha256();
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The first queued OpenSSL error as text, clearing the queue so later calls start clean.
std::string OpenSslError(const char* what) {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  std::string out = what;
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out += ": ";
    out += buf;
  }
  return out;
}

}  // namespace

const char* HashName(CertificateFingerprint::Hash hash) { return Info(hash).name; }

Result<CertificateFingerprint> CertificateFingerprint::Parse(std::string_view v) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!v.empty() && is_space(v.front())) v.remove_prefix(1);
  while (!v.empty() && is_space(v.back())) v.remove_suffix(1);
  size_t sp = 0;
  while (sp < v.size() && !is_space(v[sp])) ++sp;
  if (sp == v.size()) return MakeError(kExitDataErr, "fingerprint: expected \"<hash> <hex>\"");
  std::string_view name = v.substr(0, sp);
  std::string_view hex = v.substr(sp);
  while (!hex.empty() && is_space(hex.front())) hex.remove_prefix(1);

  const HashInfo* info = nullptr;
  for (const auto& h : kHashes)
    if (base::EqualsIgnoreAsciiCase(name, h.name)) info = &h;
  if (info == nullptr) {
    // Keep the echoed name short: it comes from the network.
    return MakeError(kExitDataErr,
                     "fingerprint: unsupported hash function '" +
                         std::string(name.substr(0, 16)) + "'");
  }
  // Exactly size pairs joined by size-1 colons.
  if (hex.size() != info->size * 3 - 1)
    return MakeError(kExitDataErr, std::string("fingerprint: ") + info->name + " needs " +
                                       std::to_string(info->size) + " colon-separated bytes");
  CertificateFingerprint fp;
  fp.hash = info->hash;
  fp.digest.reserve(info->size);
  for (size_t i = 0; i < info->size; ++i) {
    int hi = HexValue(hex[i * 3]);
    int lo = HexValue(hex[i * 3 + 1]);
    if (hi < 0 || lo < 0) return MakeError(kExitDataErr, "fingerprint: bad hex digit");
    if (i + 1 < info->size && hex[i * 3 + 2] != ':')
      return MakeError(kExitDataErr, "fingerprint: bytes must be separated by ':'");
    fp.digest.push_back(static_cast<uint8_t>(hi << 4 | lo));
  }
  return fp;
}

Result<CertificateFingerprint> CertificateFingerprint::Compute(Hash hash,
                                                               std::span<const uint8_t> der) {
  CertificateFingerprint fp;
  fp.hash = hash;
  fp.digest.resize(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  if (EVP_Digest(der.data(), der.size(), fp.digest.data(), &len, Md(hash), nullptr) != 1)
    return MakeError(kExitSoftware, OpenSslError("fingerprint digest"));
  fp.digest.resize(len);
  return fp;
}

std::string CertificateFingerprint::ToString() const {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = HashName(hash);
  out.reserve(out.size() + 1 + digest.size() * 3);
  out += ' ';
  for (size_t i = 0; i < digest.size(); ++i) {
    if (i > 0) out += ':';
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

bool CertificateFingerprint::Matches(std::span<const uint8_t> der) const {
  auto computed = Compute(hash, der);
  return computed.ok() && computed->digest == digest;
}

// ---- Certificate ----

Certificate::~Certificate() {
  X509_free(x509_);
  EVP_PKEY_free(pkey_);
}

Result<std::shared_ptr<const Certificate>> Certificate::Generate() {
  std::shared_ptr<Certificate> cert(new Certificate());

  cert->pkey_ = EVP_EC_gen("P-256");
  if (cert->pkey_ == nullptr) return MakeError(kExitSoftware, OpenSslError("P-256 key generation"));

  // A random CN and serial: nothing in the certificate identifies the host or links two
  // processes, and two certificates never share an issuer/serial pair.
  uint8_t rnd[16];
  if (RAND_bytes(rnd, sizeof rnd) != 1) return MakeError(kExitSoftware, OpenSslError("RAND_bytes"));
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 8; ++i) {
    cert->common_name_ += kHex[rnd[i] >> 4];
    cert->common_name_ += kHex[rnd[i] & 0xf];
  }
  rnd[8] &= 0x7f;  // a positive serial that fits 63 bits
  rnd[8] |= 0x01;  // and is never zero

  X509* x = X509_new();
  cert->x509_ = x;
  if (x == nullptr) return MakeError(kExitSoftware, OpenSslError("X509_new"));
  bool ok = X509_set_version(x, 2) == 1;  // v3

  BIGNUM* bn = BN_bin2bn(rnd + 8, 8, nullptr);
  ok = ok && bn != nullptr && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != nullptr;
  BN_free(bn);

  constexpr long kDay = 24 * 60 * 60;
  ok = ok && X509_gmtime_adj(X509_getm_notBefore(x), -kDay) != nullptr;
  ok = ok && X509_gmtime_adj(X509_getm_notAfter(x), 30 * kDay) != nullptr;

  X509_NAME* name = X509_NAME_new();
  ok = ok && name != nullptr &&
       X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                  reinterpret_cast<const unsigned char*>(cert->common_name_.c_str()),
                                  -1, -1, 0) == 1;
  ok = ok && X509_set_subject_name(x, name) == 1 && X509_set_issuer_name(x, name) == 1;
  X509_NAME_free(name);

  ok = ok && X509_set_pubkey(x, cert->pkey_) == 1;
  ok = ok && X509_sign(x, cert->pkey_, EVP_sha256()) > 0;
  if (!ok) return MakeError(kExitSoftware, OpenSslError("building self-signed certificate"));

  int len = i2d_X509(x, nullptr);
  if (len <= 0) return MakeError(kExitSoftware, OpenSslError("i2d_X509"));
  cert->der_.resize(static_cast<size_t>(len));
  unsigned char* p = cert->der_.data();
  if (i2d_X509(x, &p) != len) return MakeError(kExitSoftware, OpenSslError("i2d_X509"));

  COLLAB_ASSIGN_OR_RETURN(CertificateFingerprint fp,
                          CertificateFingerprint::Compute(CertificateFingerprint::Hash::kSha256,
                                                          cert->der_));
  cert->fingerprint_ = fp.ToString();
  return std::shared_ptr<const Certificate>(std::move(cert));
}

Result<std::shared_ptr<const Certificate>> Certificate::ForProcess() {
  // A mutex rather than a function-local static so a failed generation (entropy, OOM) is
  // retried on the next call instead of being cached forever.
  static std::mutex mu;
  static std::shared_ptr<const Certificate> cached;
  std::lock_guard<std::mutex> lock(mu);
  if (cached) return cached;
  auto generated = Generate();
  if (!generated.ok()) return generated.error();
  cached = *generated;
  return cached;
}

}  // namespace collab::rtc
