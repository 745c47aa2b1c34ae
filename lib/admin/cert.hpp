// A tiny intranet certificate authority for `collab-admin cert`: creates a CA (ECDSA P-256) and
// issues server certificates browsers accept (subjectAltName, serverAuth, at most 397 days), so
// an organization without a PKI can serve HTTPS once ca.crt is installed on staff PCs.
// Deliberately not here: revocation (CRL/OCSP), ACME, intermediate CAs, encrypted key files or
// client certificates. OpenSSL stays inside cert.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lib/base/result.hpp"

namespace collab::admin {

inline constexpr int kCaValidityDays = 3652;         // ten years
inline constexpr int kServerCertValidityDays = 397;  // browsers refuse more than 398

struct CaOptions {
  std::string common_name = "collab intranet CA";
  bool force = false;  // replace an existing ca.crt/ca.key
  int days = kCaValidityDays;
};

struct IssueOptions {
  int days = kServerCertValidityDays;  // 1..398
};

// Writes dir/ca.key (mode 0600) and dir/ca.crt (0644), creating dir (0700) if missing.
// Refuses (kExitCantCreat) when either file exists unless options.force.
[[nodiscard]] base::Status CreateCa(const std::string& dir, const CaOptions& options);

// Issues a certificate for hosts (DNS names, "*.domain" wildcards, IPv4/IPv6 literals) signed by
// the CA in ca_dir. out_cert gets the leaf followed by the CA certificate; out_key (0600) the new
// key. Existing output files are replaced (renewal); the CA's own files never are. Bad host
// names are kExitUsage; a missing CA is kExitNoInput.
[[nodiscard]] base::Status IssueCert(const std::string& ca_dir, const std::vector<std::string>& hosts,
                                     const std::string& out_cert, const std::string& out_key,
                                     const IssueOptions& options);

// Checks one host argument as IssueCert would; returns the normalized (lower-case) name.
[[nodiscard]] base::Result<std::string> ValidateHost(const std::string& host);

struct CertInfo {
  std::string subject;  // RFC 2253, e.g. "CN=chat.example.lan"
  std::string issuer;
  std::vector<std::string> dns_names;     // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries, textual
  std::string serial_hex;
  std::string sha256_fingerprint;  // upper-case hex pairs joined by ':'
  bool is_ca = false;
  int64_t not_before = 0;  // unix seconds
  int64_t not_after = 0;
};

// Reads the first certificate of a PEM file (the leaf of a chain file).
[[nodiscard]] base::Result<CertInfo> ReadCertInfo(const std::string& path);

}  // namespace collab::admin
