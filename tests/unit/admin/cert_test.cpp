#include "lib/admin/cert.hpp"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "lib/base/fs.hpp"

using namespace collab;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/collab-cert-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

unsigned FileMode(const std::string& path) {
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// All certificates of a PEM file, in order.
std::vector<X509*> ReadAll(const std::string& path) {
  auto text = base::ReadFile(path);
  REQUIRE(text.ok());
  BIO* bio = BIO_new_mem_buf(text->data(), static_cast<int>(text->size()));
  std::vector<X509*> out;
  while (X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) out.push_back(x);
  BIO_free(bio);
  return out;
}

EVP_PKEY* ReadKey(const std::string& path) {
  auto text = base::ReadFile(path);
  REQUIRE(text.ok());
  BIO* bio = BIO_new_mem_buf(text->data(), static_cast<int>(text->size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return key;
}

// X509_verify_cert of leaf against a store holding only ca, for the serverAuth purpose.
int Verify(X509* leaf, X509* ca, std::string* why) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
  int ok = X509_verify_cert(ctx);
  if (ok != 1) *why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return ok;
}

}  // namespace

TEST_CASE("CreateCa writes a P-256 self-signed CA with the right modes and extensions") {
  TempDir tmp;
  std::string dir = tmp.path + "/ca";
  REQUIRE(admin::CreateCa(dir, admin::CaOptions{}).ok());
  CHECK(FileMode(dir + "/ca.crt") == 0644);
  CHECK(FileMode(dir + "/ca.key") == 0600);
  CHECK(FileMode(dir) == 0700);

  auto info = admin::ReadCertInfo(dir + "/ca.crt");
  REQUIRE(info.ok());
  CHECK(info->subject == "CN=collab intranet CA");
  CHECK(info->issuer == info->subject);
  CHECK(info->is_ca);
  int64_t now = std::time(nullptr);
  CHECK(info->not_before <= now);
  CHECK(info->not_after - now > 3650LL * 86400 - 3600);
  CHECK(info->not_after - now <= 3653LL * 86400);

  auto certs = ReadAll(dir + "/ca.crt");
  REQUIRE(certs.size() == 1);
  X509* ca = certs[0];
  EVP_PKEY* pub = X509_get0_pubkey(ca);
  CHECK(EVP_PKEY_is_a(pub, "EC"));
  char group[64] = {0};
  size_t glen = 0;
  CHECK(EVP_PKEY_get_utf8_string_param(pub, "group", group, sizeof group, &glen) == 1);
  CHECK(std::string(group) == "prime256v1");
  CHECK(X509_verify(ca, pub) == 1);  // self-signed
  // basicConstraints CA:TRUE must be critical; keyUsage is exactly keyCertSign + cRLSign.
  int crit = -1;
  auto* bc = static_cast<BASIC_CONSTRAINTS*>(X509_get_ext_d2i(ca, NID_basic_constraints, &crit, nullptr));
  REQUIRE(bc != nullptr);
  CHECK(bc->ca != 0);
  CHECK(crit == 1);
  BASIC_CONSTRAINTS_free(bc);
  CHECK(X509_get_key_usage(ca) == (KU_KEY_CERT_SIGN | KU_CRL_SIGN));

  EVP_PKEY* key = ReadKey(dir + "/ca.key");
  REQUIRE(key != nullptr);
  CHECK(X509_check_private_key(ca, key) == 1);
  EVP_PKEY_free(key);
  X509_free(ca);
}

TEST_CASE("CreateCa refuses to overwrite an existing CA unless forced") {
  TempDir tmp;
  REQUIRE(admin::CreateCa(tmp.path, admin::CaOptions{}).ok());
  auto before = base::ReadFile(tmp.path + "/ca.key");
  REQUIRE(before.ok());

  auto again = admin::CreateCa(tmp.path, admin::CaOptions{});
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == base::kExitCantCreat);
  CHECK(again.error().message.find("ca.key") != std::string::npos);
  CHECK(*base::ReadFile(tmp.path + "/ca.key") == *before);

  // A lone ca.crt (key deleted) is protected too.
  REQUIRE(::unlink((tmp.path + "/ca.key").c_str()) == 0);
  CHECK_FALSE(admin::CreateCa(tmp.path, admin::CaOptions{}).ok());

  admin::CaOptions force;
  force.force = true;
  force.common_name = "Example Corp CA";
  REQUIRE(admin::CreateCa(tmp.path, force).ok());
  CHECK(*base::ReadFile(tmp.path + "/ca.key") != *before);
  CHECK(admin::ReadCertInfo(tmp.path + "/ca.crt")->subject == "CN=Example Corp CA");
}

TEST_CASE("IssueCert issues a chain that verifies against the CA") {
  TempDir tmp;
  std::string ca_dir = tmp.path + "/ca";
  REQUIRE(admin::CreateCa(ca_dir, admin::CaOptions{}).ok());
  std::string crt = tmp.path + "/server.crt", key = tmp.path + "/server.key";
  auto st =
      admin::IssueCert(ca_dir, {"chat.example.lan", "10.0.0.5", "::1", "localhost"}, crt, key, admin::IssueOptions{});
  REQUIRE(st.ok());
  CHECK(FileMode(crt) == 0644);
  CHECK(FileMode(key) == 0600);

  auto info = admin::ReadCertInfo(crt);
  REQUIRE(info.ok());
  CHECK(info->subject == "CN=chat.example.lan");
  CHECK(info->issuer == "CN=collab intranet CA");
  CHECK_FALSE(info->is_ca);
  CHECK(info->dns_names == std::vector<std::string>{"chat.example.lan", "localhost"});
  CHECK(info->ip_addresses == std::vector<std::string>{"10.0.0.5", "::1"});
  // 397 days, and never more than the 398 browsers accept.
  CHECK(info->not_after - info->not_before == 397LL * 86400);
  int64_t now = std::time(nullptr);
  CHECK(info->not_before <= now);
  CHECK(info->not_after > now + 396LL * 86400);
  CHECK(info->serial_hex.size() >= 30);  // 128 random bits
  CHECK(info->sha256_fingerprint.size() == 32 * 3 - 1);

  // The file is leaf then CA.
  auto chain = ReadAll(crt);
  REQUIRE(chain.size() == 2);
  auto cas = ReadAll(ca_dir + "/ca.crt");
  REQUIRE(cas.size() == 1);
  CHECK(X509_cmp(chain[1], cas[0]) == 0);

  X509* leaf = chain[0];
  std::string why;
  CHECK(Verify(leaf, cas[0], &why) == 1);
  INFO(why);
  CHECK(X509_check_host(leaf, "chat.example.lan", 0, 0, nullptr) == 1);
  CHECK(X509_check_host(leaf, "localhost", 0, 0, nullptr) == 1);
  CHECK(X509_check_host(leaf, "other.example.lan", 0, 0, nullptr) == 0);
  CHECK(X509_check_ip_asc(leaf, "10.0.0.5", 0) == 1);
  CHECK(X509_check_ip_asc(leaf, "::1", 0) == 1);
  CHECK(X509_check_ip_asc(leaf, "10.0.0.6", 0) == 0);
  CHECK((X509_get_extended_key_usage(leaf) & XKU_SSL_SERVER) != 0);
  int crit = -1;
  auto* bc = static_cast<BASIC_CONSTRAINTS*>(X509_get_ext_d2i(leaf, NID_basic_constraints, &crit, nullptr));
  REQUIRE(bc != nullptr);
  CHECK(bc->ca == 0);
  BASIC_CONSTRAINTS_free(bc);

  EVP_PKEY* k = ReadKey(key);
  REQUIRE(k != nullptr);
  CHECK(X509_check_private_key(leaf, k) == 1);
  CHECK(EVP_PKEY_is_a(k, "EC"));
  EVP_PKEY_free(k);

  // A second issue renews: new key and serial, same names.
  auto first_serial = info->serial_hex;
  REQUIRE(admin::IssueCert(ca_dir, {"chat.example.lan"}, crt, key, admin::IssueOptions{}).ok());
  CHECK(admin::ReadCertInfo(crt)->serial_hex != first_serial);

  // A foreign CA does not verify the leaf.
  REQUIRE(admin::CreateCa(tmp.path + "/other", admin::CaOptions{}).ok());
  auto other = ReadAll(tmp.path + "/other/ca.crt");
  REQUIRE(other.size() == 1);
  CHECK(Verify(leaf, other[0], &why) != 1);

  for (X509* x : chain) X509_free(x);
  for (X509* x : cas) X509_free(x);
  for (X509* x : other) X509_free(x);
}

TEST_CASE("IssueCert accepts a leading wildcard and dedupes names") {
  TempDir tmp;
  REQUIRE(admin::CreateCa(tmp.path, admin::CaOptions{}).ok());
  std::string crt = tmp.path + "/w.crt", key = tmp.path + "/w.key";
  REQUIRE(admin::IssueCert(tmp.path, {"*.Example.LAN", "example.lan", "example.lan"}, crt, key, admin::IssueOptions{})
              .ok());
  auto info = admin::ReadCertInfo(crt);
  REQUIRE(info.ok());
  CHECK(info->dns_names == std::vector<std::string>{"*.example.lan", "example.lan"});
  auto chain = ReadAll(crt);
  REQUIRE(!chain.empty());
  CHECK(X509_check_host(chain[0], "chat.example.lan", 0, 0, nullptr) == 1);
  for (X509* x : chain) X509_free(x);
}

TEST_CASE("IssueCert rejects bad host names with a usage error") {
  TempDir tmp;
  REQUIRE(admin::CreateCa(tmp.path, admin::CaOptions{}).ok());
  std::string crt = tmp.path + "/s.crt", key = tmp.path + "/s.key";
  for (const char* bad : {"", "chat example.lan", "chat.*.lan", "a*.example.lan", "*.lan", "*", "**.example.lan",
                          "foo..lan", ".foo.lan", "foo.lan.", "-foo.lan", "foo-.lan", "foo_bar.lan", "[::1]",
                          "10.0.0.256", "caf\xc3\xa9.lan", "chat.example.lan\n", "a,b.lan"}) {
    INFO("host: " << bad);
    auto st = admin::IssueCert(tmp.path, {"ok.example.lan", bad}, crt, key, admin::IssueOptions{});
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code == base::kExitUsage);
    CHECK_FALSE(base::PathExists(crt));
    CHECK_FALSE(base::PathExists(key));
  }
  CHECK(admin::IssueCert(tmp.path, {}, crt, key, admin::IssueOptions{}).error().code == base::kExitUsage);
  CHECK(admin::IssueCert(tmp.path, {std::string(64, 'a') + ".lan"}, crt, key, admin::IssueOptions{}).error().code ==
        base::kExitUsage);
  admin::IssueOptions too_long;
  too_long.days = 399;
  CHECK(admin::IssueCert(tmp.path, {"a.lan"}, crt, key, too_long).error().code == base::kExitUsage);
}

TEST_CASE("IssueCert protects the CA files and reports a missing CA") {
  TempDir tmp;
  auto missing =
      admin::IssueCert(tmp.path + "/none", {"a.lan"}, tmp.path + "/a.crt", tmp.path + "/a.key", admin::IssueOptions{});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == base::kExitNoInput);

  REQUIRE(admin::CreateCa(tmp.path, admin::CaOptions{}).ok());
  auto key_before = base::ReadFile(tmp.path + "/ca.key");
  auto st = admin::IssueCert(tmp.path, {"a.lan"}, tmp.path + "/a.crt", tmp.path + "/ca.key", admin::IssueOptions{});
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().code == base::kExitUsage);
  CHECK(*base::ReadFile(tmp.path + "/ca.key") == *key_before);
}

TEST_CASE("A long first name still gets a certificate, with the SAN carrying it") {
  TempDir tmp;
  REQUIRE(admin::CreateCa(tmp.path, admin::CaOptions{}).ok());
  std::string longname = std::string(60, 'a') + "." + std::string(20, 'b') + ".lan";
  std::string crt = tmp.path + "/l.crt", key = tmp.path + "/l.key";
  REQUIRE(admin::IssueCert(tmp.path, {longname}, crt, key, admin::IssueOptions{}).ok());
  auto info = admin::ReadCertInfo(crt);
  REQUIRE(info.ok());
  CHECK(info->subject.empty());
  CHECK(info->dns_names == std::vector<std::string>{longname});
}

TEST_CASE("ReadCertInfo reports missing and non-certificate files") {
  TempDir tmp;
  auto missing = admin::ReadCertInfo(tmp.path + "/nope.crt");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == base::kExitNoInput);
  REQUIRE(base::WriteFileAtomic(tmp.path + "/junk.crt", "not a certificate\n").ok());
  auto junk = admin::ReadCertInfo(tmp.path + "/junk.crt");
  REQUIRE_FALSE(junk.ok());
  CHECK(junk.error().code == base::kExitDataErr);
}
