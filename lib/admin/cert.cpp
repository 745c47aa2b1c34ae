#include "lib/admin/cert.hpp"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <memory>

#include "lib/base/fs.hpp"

namespace collab::admin {

using base::Error;
using base::Result;
using base::Status;

namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free_all(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(ASN1_INTEGER* p) const { ASN1_INTEGER_free(p); }
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
};
template <typename T>
using Ptr = std::unique_ptr<T, Free>;

// The OpenSSL error queue as one line, so messages say why and the queue does not leak into
// the next operation.
std::string SslErrors() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

Error SslError(const std::string& what) { return Error{base::kExitSoftware, what + ": " + SslErrors()}; }

Result<Ptr<EVP_PKEY>> NewKey() {
  Ptr<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (!key) return SslError("cannot generate a P-256 key");
  return key;
}

Result<std::string> BioString(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  if (len < 0) return SslError("cannot read memory BIO");
  return std::string(data, static_cast<size_t>(len));
}

Result<std::string> KeyPem(EVP_PKEY* key) {
  Ptr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return SslError("cannot encode private key");
  return BioString(bio.get());
}

Result<std::string> CertPem(X509* cert) {
  Ptr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return SslError("cannot encode certificate");
  return BioString(bio.get());
}

Status SetRandomSerial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return SslError("no randomness for the serial number");
  bytes[0] |= 0x01;  // never all zero: a serial must be positive
  Ptr<BIGNUM> bn(BN_bin2bn(bytes, sizeof bytes, nullptr));
  Ptr<ASN1_INTEGER> serial(bn ? BN_to_ASN1_INTEGER(bn.get(), nullptr) : nullptr);
  if (!serial || X509_set_serialNumber(cert, serial.get()) != 1) return SslError("cannot set serial number");
  return base::Ok();
}

Status AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return SslError(std::string("cannot build extension ") + OBJ_nid2sn(nid));
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) return SslError(std::string("cannot add extension ") + OBJ_nid2sn(nid));
  return base::Ok();
}

Status SetCommonName(X509_NAME* name, const std::string& cn) {
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.data()),
                                 static_cast<int>(cn.size()), -1, 0) != 1)
    return SslError("cannot set common name \"" + cn + "\"");
  return base::Ok();
}

// notBefore slightly in the past so a client whose clock lags a little accepts a fresh cert;
// notAfter counted from notBefore so the whole period stays within `days`.
Status SetValidity(X509* cert, int days) {
  constexpr long kBackdateSeconds = 300;
  time_t now = std::time(nullptr);
  if (X509_time_adj_ex(X509_getm_notBefore(cert), 0, -kBackdateSeconds, &now) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert), days, -kBackdateSeconds, &now) == nullptr)
    return SslError("cannot set validity");
  return base::Ok();
}

Result<Ptr<X509>> ReadPemCert(const std::string& path) {
  auto text = base::ReadFile(path, 1024 * 1024);
  if (!text.ok()) return text.error();
  Ptr<BIO> bio(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
  Ptr<X509> cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) {
    ERR_clear_error();
    return Error{base::kExitDataErr, path + ": no PEM certificate found"};
  }
  return cert;
}

Result<Ptr<EVP_PKEY>> ReadPemKey(const std::string& path) {
  auto text = base::ReadFile(path, 1024 * 1024);
  if (!text.ok()) return text.error();
  Ptr<BIO> bio(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
  Ptr<EVP_PKEY> key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) {
    ERR_clear_error();
    return Error{base::kExitDataErr, path + ": no unencrypted PEM private key found"};
  }
  return key;
}

std::string NameText(const X509_NAME* name) {
  Ptr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return "";
  auto s = BioString(bio.get());
  return s.ok() ? *s : "";
}

Result<int64_t> TimeToUnix(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return Error{base::kExitDataErr, "bad certificate time"};
  return static_cast<int64_t>(timegm(&tm));
}

bool SameFile(const std::string& a, const std::string& b) {
  if (a == b) return true;
  struct stat sa, sb;
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

}  // namespace

Result<std::string> ValidateHost(const std::string& host) {
  auto bad = [&](const std::string& why) { return Error{base::kExitUsage, "bad host name \"" + host + "\": " + why}; };
  if (host.empty()) return Error{base::kExitUsage, "empty host name"};

  unsigned char addr[16];
  if (inet_pton(AF_INET, host.c_str(), addr) == 1) return host;
  if (inet_pton(AF_INET6, host.c_str(), addr) == 1) {
    char text[INET6_ADDRSTRLEN];
    if (inet_ntop(AF_INET6, addr, text, sizeof text) == nullptr) return bad("bad IPv6 address");
    return std::string(text);
  }
  if (host.front() == '[') return bad("write IPv6 addresses without brackets");
  if (host.size() > 253) return bad("longer than 253 characters");

  std::string name;
  name.reserve(host.size());
  for (unsigned char c : host) {
    if (c >= 0x80) return bad("non-ASCII characters; use the punycode (xn--) form");
    if (std::isspace(c)) return bad("contains white space");
    if (!std::isalnum(c) && c != '-' && c != '.' && c != '*')
      return bad(std::string("character '") + static_cast<char>(c) + "' is not allowed in a DNS name");
    name.push_back(static_cast<char>(std::tolower(c)));
  }

  std::string rest = name;
  if (name.find('*') != std::string::npos) {
    if (name.rfind("*.", 0) != 0 || name.find('*', 1) != std::string::npos)
      return bad("a wildcard is only allowed as a whole leading label (\"*.example.lan\")");
    rest = name.substr(2);
    if (rest.find('.') == std::string::npos)
      return bad("a wildcard needs at least two labels after \"*.\" (\"*.example.lan\")");
  }

  size_t start = 0;
  std::string last_label;
  for (;;) {
    size_t dot = rest.find('.', start);
    std::string label = rest.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (label.empty()) return bad("empty label (leading, trailing or double dot)");
    if (label.size() > 63) return bad("a label is longer than 63 characters");
    if (label.front() == '-' || label.back() == '-') return bad("a label starts or ends with '-'");
    last_label = label;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (std::all_of(last_label.begin(), last_label.end(), [](unsigned char c) { return std::isdigit(c); }))
    return bad("looks like an IP address but is not a valid one");
  return name;
}

Status CreateCa(const std::string& dir, const CaOptions& options) {
  if (options.common_name.empty() || options.common_name.size() > 64)
    return Error{base::kExitUsage, "CA common name must be 1 to 64 characters"};
  if (options.days < 1 || options.days > 36500) return Error{base::kExitUsage, "CA validity must be 1 to 36500 days"};
  const std::string crt_path = base::JoinPath(dir, "ca.crt");
  const std::string key_path = base::JoinPath(dir, "ca.key");
  if (!options.force) {
    for (const auto& p : {key_path, crt_path}) {
      if (base::PathExists(p))
        return Error{base::kExitCantCreat,
                     "refusing to overwrite the existing CA file " + p +
                         " (certificates it issued would stop being trusted); force to replace it"};
    }
  }
  COLLAB_TRY(base::MakeDirs(dir, 0700));

  COLLAB_ASSIGN_OR_RETURN(Ptr<EVP_PKEY> key, NewKey());
  Ptr<X509> cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) return SslError("cannot create certificate");
  COLLAB_TRY(SetRandomSerial(cert.get()));
  COLLAB_TRY(SetCommonName(X509_get_subject_name(cert.get()), options.common_name));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) != 1) return SslError("cannot set issuer");
  COLLAB_TRY(SetValidity(cert.get(), options.days));
  if (X509_set_pubkey(cert.get(), key.get()) != 1) return SslError("cannot set public key");
  COLLAB_TRY(AddExt(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE"));
  COLLAB_TRY(AddExt(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign"));
  COLLAB_TRY(AddExt(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return SslError("cannot sign CA certificate");

  COLLAB_ASSIGN_OR_RETURN(std::string key_pem, KeyPem(key.get()));
  COLLAB_ASSIGN_OR_RETURN(std::string crt_pem, CertPem(cert.get()));
  // Key first: a ca.crt without its key would look like a usable CA.
  COLLAB_TRY(base::WriteFileAtomic(key_path, key_pem, 0600));
  COLLAB_TRY(base::WriteFileAtomic(crt_path, crt_pem, 0644));
  return base::Ok();
}

Status IssueCert(const std::string& ca_dir, const std::vector<std::string>& hosts, const std::string& out_cert,
                 const std::string& out_key, const IssueOptions& options) {
  if (hosts.empty()) return Error{base::kExitUsage, "no host names to put in the certificate"};
  if (options.days < 1 || options.days > 398)
    return Error{base::kExitUsage, "server certificate validity must be 1 to 398 days (browsers refuse longer)"};
  std::vector<std::string> names;
  for (const auto& h : hosts) {
    COLLAB_ASSIGN_OR_RETURN(std::string n, ValidateHost(h));
    if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(std::move(n));
  }

  const std::string ca_crt_path = base::JoinPath(ca_dir, "ca.crt");
  const std::string ca_key_path = base::JoinPath(ca_dir, "ca.key");
  if (out_cert.empty() || out_key.empty()) return Error{base::kExitUsage, "certificate and key paths are required"};
  if (SameFile(out_cert, out_key)) return Error{base::kExitUsage, "certificate and key must be different files"};
  for (const auto& out : {out_cert, out_key}) {
    if (SameFile(out, ca_crt_path) || SameFile(out, ca_key_path))
      return Error{base::kExitUsage, "refusing to overwrite the CA's own file " + out};
  }
  if (!base::PathExists(ca_crt_path) || !base::PathExists(ca_key_path))
    return Error{base::kExitNoInput, "no CA in " + ca_dir + " (ca.crt and ca.key); create one first"};
  COLLAB_ASSIGN_OR_RETURN(Ptr<X509> ca, ReadPemCert(ca_crt_path));
  COLLAB_ASSIGN_OR_RETURN(Ptr<EVP_PKEY> ca_key, ReadPemKey(ca_key_path));
  if (X509_check_private_key(ca.get(), ca_key.get()) != 1) {
    ERR_clear_error();
    return Error{base::kExitDataErr, ca_key_path + " does not belong to " + ca_crt_path};
  }
  if (X509_check_ca(ca.get()) < 1) return Error{base::kExitDataErr, ca_crt_path + " is not a CA certificate"};

  COLLAB_ASSIGN_OR_RETURN(Ptr<EVP_PKEY> key, NewKey());
  Ptr<X509> cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) return SslError("cannot create certificate");
  COLLAB_TRY(SetRandomSerial(cert.get()));
  // CN is capped at 64 characters by X.520; browsers only read the SAN anyway.
  auto cn = std::find_if(names.begin(), names.end(), [](const std::string& n) { return n.size() <= 64; });
  if (cn != names.end()) COLLAB_TRY(SetCommonName(X509_get_subject_name(cert.get()), *cn));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.get())) != 1) return SslError("cannot set issuer");
  COLLAB_TRY(SetValidity(cert.get(), options.days));
  // A leaf must not outlive its CA: verification would fail from that day on anyway.
  if (ASN1_TIME_compare(X509_get0_notAfter(cert.get()), X509_get0_notAfter(ca.get())) > 0 &&
      X509_set1_notAfter(cert.get(), X509_get0_notAfter(ca.get())) != 1)
    return SslError("cannot set validity");
  if (X509_set_pubkey(cert.get(), key.get()) != 1) return SslError("cannot set public key");

  Ptr<GENERAL_NAMES> sans(sk_GENERAL_NAME_new_null());
  if (!sans) return SslError("out of memory");
  for (const auto& n : names) {
    unsigned char addr[16];
    int addr_len = 0;
    if (inet_pton(AF_INET, n.c_str(), addr) == 1) {
      addr_len = 4;
    } else if (inet_pton(AF_INET6, n.c_str(), addr) == 1) {
      addr_len = 16;
    }
    GENERAL_NAME* gen = GENERAL_NAME_new();
    ASN1_STRING* value = addr_len > 0 ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
    bool ok = gen != nullptr && value != nullptr &&
              (addr_len > 0 ? ASN1_OCTET_STRING_set(value, addr, addr_len)
                            : ASN1_STRING_set(value, n.data(), static_cast<int>(n.size()))) == 1;
    if (!ok) {
      GENERAL_NAME_free(gen);
      ASN1_STRING_free(value);
      return SslError("cannot build subjectAltName");
    }
    GENERAL_NAME_set0_value(gen, addr_len > 0 ? GEN_IPADD : GEN_DNS, value);
    if (sk_GENERAL_NAME_push(sans.get(), gen) == 0) {
      GENERAL_NAME_free(gen);
      return SslError("out of memory");
    }
  }
  // RFC 5280: the SAN is critical when the subject is empty.
  if (X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, sans.get(), cn == names.end() ? 1 : 0, X509V3_ADD_DEFAULT) !=
      1)
    return SslError("cannot add subjectAltName");
  COLLAB_TRY(AddExt(cert.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE"));
  COLLAB_TRY(AddExt(cert.get(), ca.get(), NID_key_usage, "critical,digitalSignature"));
  COLLAB_TRY(AddExt(cert.get(), ca.get(), NID_ext_key_usage, "serverAuth"));
  COLLAB_TRY(AddExt(cert.get(), ca.get(), NID_subject_key_identifier, "hash"));
  COLLAB_TRY(AddExt(cert.get(), ca.get(), NID_authority_key_identifier, "keyid:always"));
  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) == 0) return SslError("cannot sign certificate");

  COLLAB_ASSIGN_OR_RETURN(std::string key_pem, KeyPem(key.get()));
  COLLAB_ASSIGN_OR_RETURN(std::string leaf_pem, CertPem(cert.get()));
  COLLAB_ASSIGN_OR_RETURN(std::string ca_pem, CertPem(ca.get()));
  COLLAB_TRY(base::WriteFileAtomic(out_key, key_pem, 0600));
  COLLAB_TRY(base::WriteFileAtomic(out_cert, leaf_pem + ca_pem, 0644));
  return base::Ok();
}

Result<CertInfo> ReadCertInfo(const std::string& path) {
  COLLAB_ASSIGN_OR_RETURN(Ptr<X509> cert, ReadPemCert(path));
  CertInfo info;
  info.subject = NameText(X509_get_subject_name(cert.get()));
  info.issuer = NameText(X509_get_issuer_name(cert.get()));

  int crit = 0;
  Ptr<GENERAL_NAMES> sans(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert.get(), NID_subject_alt_name, &crit, nullptr)));
  for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans.get()); ++i) {
    const GENERAL_NAME* gen = sk_GENERAL_NAME_value(sans.get(), i);
    int type = 0;
    const auto* value = static_cast<const ASN1_STRING*>(GENERAL_NAME_get0_value(gen, &type));
    const unsigned char* data = ASN1_STRING_get0_data(value);
    int len = ASN1_STRING_length(value);
    if (type == GEN_DNS) {
      info.dns_names.emplace_back(reinterpret_cast<const char*>(data), static_cast<size_t>(len));
    } else if (type == GEN_IPADD && (len == 4 || len == 16)) {
      char text[INET6_ADDRSTRLEN];
      if (inet_ntop(len == 4 ? AF_INET : AF_INET6, data, text, sizeof text) != nullptr)
        info.ip_addresses.emplace_back(text);
    }
  }

  Ptr<BIGNUM> serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr));
  if (serial) {
    char* hex = BN_bn2hex(serial.get());
    if (hex != nullptr) info.serial_hex = hex;
    OPENSSL_free(hex);
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (X509_digest(cert.get(), EVP_sha256(), md, &md_len) == 1) {
    static const char kHex[] = "0123456789ABCDEF";
    for (unsigned i = 0; i < md_len; ++i) {
      if (i > 0) info.sha256_fingerprint.push_back(':');
      info.sha256_fingerprint.push_back(kHex[md[i] >> 4]);
      info.sha256_fingerprint.push_back(kHex[md[i] & 15]);
    }
  }
  info.is_ca = (X509_get_extension_flags(cert.get()) & EXFLAG_CA) != 0;
  COLLAB_ASSIGN_OR_RETURN(info.not_before, TimeToUnix(X509_get0_notBefore(cert.get())));
  COLLAB_ASSIGN_OR_RETURN(info.not_after, TimeToUnix(X509_get0_notAfter(cert.get())));
  ERR_clear_error();
  return info;
}

}  // namespace collab::admin
