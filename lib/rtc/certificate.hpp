// The DTLS identity of a WebRTC endpoint: an ECDSA P-256 self-signed certificate (one per
// process, random CN and serial) and the SDP a=fingerprint that binds it to the signalling
// (RFC 8122): computing ours, parsing the peer's, and checking a peer certificate against it.
//
// Deliberately not here: certificate chains, CAs, expiry checks on the peer certificate (WebRTC
// authenticates by fingerprint only), persistence of the key to disk, and any DTLS logic
// (dtls.hpp). OpenSSL types appear only as opaque forward declarations for dtls.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.hpp"

struct x509_st;     // OpenSSL X509, borrowed by dtls.cpp
struct evp_pkey_st;  // OpenSSL EVP_PKEY, borrowed by dtls.cpp

namespace collab::rtc {

// One a=fingerprint value: a hash function and the digest of the DER certificate.
struct CertificateFingerprint {
  enum class Hash : uint8_t { kSha1, kSha256, kSha384, kSha512 };

  Hash hash = Hash::kSha256;
  std::vector<uint8_t> digest;

  // Parses "sha-256 AB:CD:..." (the a=fingerprint attribute value). The hash name and the hex
  // digits are case-insensitive; the digest must have exactly the hash's length, as colon-separated
  // byte pairs. md5/md2 are rejected (RFC 8122 section 5).
  static base::Result<CertificateFingerprint> Parse(std::string_view sdp_value);
  // The digest of a DER-encoded certificate.
  static base::Result<CertificateFingerprint> Compute(Hash hash, std::span<const uint8_t> der);

  // "sha-256 AB:CD:..." with upper-case hex, as browsers write it.
  std::string ToString() const;
  // True when the DER certificate hashes (with this->hash) to this->digest.
  bool Matches(std::span<const uint8_t> der) const;

  bool operator==(const CertificateFingerprint&) const = default;
};

// "sha-256" etc.
const char* HashName(CertificateFingerprint::Hash hash);

class Certificate {
 public:
  // A fresh key pair and self-signed certificate: ECDSA P-256, SHA-256 signature, random
  // 16-hex-digit CN and 63-bit serial, valid from one day ago (tolerates clock skew) for 30 days.
  static base::Result<std::shared_ptr<const Certificate>> Generate();
  // The process-wide certificate, generated on first use (thread-safe). Browsers do not check
  // expiry on DTLS-SRTP certificates, so a daemon running past 30 days keeps working.
  static base::Result<std::shared_ptr<const Certificate>> ForProcess();

  ~Certificate();
  Certificate(const Certificate&) = delete;
  Certificate& operator=(const Certificate&) = delete;

  // SHA-256 fingerprint in SDP form, "sha-256 AB:CD:...".
  const std::string& fingerprint() const { return fingerprint_; }
  const std::vector<uint8_t>& der() const { return der_; }
  const std::string& common_name() const { return common_name_; }

  // Borrowed OpenSSL handles (dtls.cpp takes its own references).
  x509_st* x509() const { return x509_; }
  evp_pkey_st* private_key() const { return pkey_; }

 private:
  Certificate() = default;

  x509_st* x509_ = nullptr;
  evp_pkey_st* pkey_ = nullptr;
  std::vector<uint8_t> der_;
  std::string fingerprint_;
  std::string common_name_;
};

}  // namespace collab::rtc
