// srtp_bench: SRTP crypto throughput on one core, the ceiling for the SFU's per-packet path.
// For 1200-byte RTP packets it measures protect+unprotect (one packet encrypted by one session
// and decrypted by its peer) with SrtpSession for both DTLS-SRTP suites, and the same
// encrypt+decrypt done directly with OpenSSL's EVP AES-128-GCM on the same buffers: the
// physical limit SRTP-GCM is compared against. Not a test: it asserts only that every packet
// round-trips. The full receive -> decrypt -> parse -> encrypt -> send figure, as a ratio to the
// crypto it contains, is path_bench's (it needs the socket layer; this stays crypto only).
//
// usage: srtp_bench [--seconds S] [--rounds N]
// Each figure is the best of N rounds (default 5) of S/N seconds (default S = 2), the three
// measurements interleaved round by round, so a neighbour's burst of CPU use on a shared machine
// lowers one round rather than one figure, and the ratios compare like with like.
#include <openssl/evp.h>
#include <sched.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "lib/rtc/srtp.hpp"

using collab::rtc::SrtpKeys;
using collab::rtc::SrtpProfile;
using collab::rtc::SrtpSession;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kPacketSize = 1200;  // RTP header (12) + payload, before the SRTP tag
constexpr size_t kHeaderSize = 12;

std::vector<uint8_t> MakeRtpTemplate() {
  std::vector<uint8_t> p(kPacketSize);
  p[0] = 0x80;
  p[1] = 96;
  p[8] = 0x11;
  p[9] = 0x22;
  p[10] = 0x33;
  p[11] = 0x44;
  std::mt19937 rng(1);
  for (size_t i = kHeaderSize; i < p.size(); ++i) p[i] = static_cast<uint8_t>(rng());
  return p;
}

struct Figure {
  double packets_per_s = 0;
  double gbit_per_s() const { return packets_per_s * kPacketSize * 8 / 1e9; }
};

// Runs `one(i)` (one packet through encrypt and decrypt) in batches until `seconds` elapsed.
template <typename F>
Figure Measure(double seconds, F&& one) {
  for (uint32_t i = 0; i < 200; ++i) one(i);  // warm caches
  uint64_t n = 2000;
  const auto start = Clock::now();
  const auto until = start + std::chrono::duration<double>(seconds);
  auto now = start;
  while (now < until) {
    for (int k = 0; k < 1000; ++k, ++n) one(static_cast<uint32_t>(n));
    now = Clock::now();
  }
  Figure f;
  f.packets_per_s = static_cast<double>(n - 2000) / std::chrono::duration<double>(now - start).count();
  return f;
}

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "srtp_bench: %s\n", what);
  std::exit(70);
}

class SrtpBench {
 public:
  explicit SrtpBench(SrtpProfile profile) {
    std::mt19937 rng(static_cast<uint32_t>(profile));
    SrtpKeys a, b;
    a.profile = b.profile = profile;
    for (size_t i = 0; i < collab::rtc::SrtpKeySaltLength(profile); ++i) {
      a.local_key_salt.push_back(static_cast<uint8_t>(rng()));
      a.remote_key_salt.push_back(static_cast<uint8_t>(rng()));
    }
    b.local_key_salt = a.remote_key_salt;
    b.remote_key_salt = a.local_key_salt;
    auto tx = SrtpSession::Create(a);
    auto rx = SrtpSession::Create(b);
    if (!tx.ok() || !rx.ok()) Die("cannot create SRTP sessions");
    tx_ = std::move(*tx);
    rx_ = std::move(*rx);
  }

  Figure Run(double seconds) {
    // Sequence numbers continue across rounds: the sessions' replay state stays consistent.
    return Measure(seconds, [&](uint32_t) {
      const uint32_t i = seq_++;
      std::memcpy(buf_.data(), tmpl_.data(), kPacketSize);
      buf_[2] = static_cast<uint8_t>(i >> 8);
      buf_[3] = static_cast<uint8_t>(i);
      auto len = tx_->ProtectRtp(buf_, kPacketSize);
      if (!len.ok()) Die(("protect: " + len.error().message).c_str());
      auto back = rx_->UnprotectRtp(buf_, *len);
      if (!back.ok() || *back != kPacketSize) Die(("unprotect: " + back.error().message).c_str());
    });
  }

 private:
  std::unique_ptr<SrtpSession> tx_, rx_;
  const std::vector<uint8_t> tmpl_ = MakeRtpTemplate();
  std::vector<uint8_t> buf_ = std::vector<uint8_t>(kPacketSize + collab::rtc::kSrtpMaxRtpOverhead);
  uint32_t seq_ = 0;
};

// AES-128-GCM exactly as SRTP-GCM uses it: 12-byte IV, the RTP header as AAD, the payload
// encrypted, a 16-byte tag; then decrypted and the tag checked.
class EvpGcmBench {
 public:
  EvpGcmBench() {
    std::mt19937 rng(3);
    for (auto& k : key_) k = static_cast<uint8_t>(rng());
    for (auto& v : iv_) v = static_cast<uint8_t>(rng());
    enc_ = EVP_CIPHER_CTX_new();
    dec_ = EVP_CIPHER_CTX_new();
    if (enc_ == nullptr || dec_ == nullptr ||
        EVP_EncryptInit_ex(enc_, EVP_aes_128_gcm(), nullptr, key_, nullptr) != 1 ||
        EVP_DecryptInit_ex(dec_, EVP_aes_128_gcm(), nullptr, key_, nullptr) != 1)
      Die("EVP init");
  }
  ~EvpGcmBench() {
    EVP_CIPHER_CTX_free(enc_);
    EVP_CIPHER_CTX_free(dec_);
  }

  Figure Run(double seconds) {
    const int payload = static_cast<int>(kPacketSize - kHeaderSize);
    return Measure(seconds, [&](uint32_t i) {
      std::memcpy(buf_.data(), tmpl_.data(), kPacketSize);
      iv_[10] = static_cast<uint8_t>(i >> 8);
      iv_[11] = static_cast<uint8_t>(i);
      int n = 0;
      uint8_t* body = buf_.data() + kHeaderSize;
      if (EVP_EncryptInit_ex(enc_, nullptr, nullptr, nullptr, iv_) != 1 ||
          EVP_EncryptUpdate(enc_, nullptr, &n, buf_.data(), kHeaderSize) != 1 ||
          EVP_EncryptUpdate(enc_, body, &n, body, payload) != 1 || EVP_EncryptFinal_ex(enc_, body + n, &n) != 1 ||
          EVP_CIPHER_CTX_ctrl(enc_, EVP_CTRL_GCM_GET_TAG, 16, buf_.data() + kPacketSize) != 1)
        Die("EVP encrypt");
      if (EVP_DecryptInit_ex(dec_, nullptr, nullptr, nullptr, iv_) != 1 ||
          EVP_DecryptUpdate(dec_, nullptr, &n, buf_.data(), kHeaderSize) != 1 ||
          EVP_DecryptUpdate(dec_, body, &n, body, payload) != 1 ||
          EVP_CIPHER_CTX_ctrl(dec_, EVP_CTRL_GCM_SET_TAG, 16, buf_.data() + kPacketSize) != 1 ||
          EVP_DecryptFinal_ex(dec_, body + n, &n) != 1)
        Die("EVP decrypt: tag mismatch");
    });
  }

 private:
  // AES-128-GCM exactly as SRTP-GCM uses it: 12-byte IV, the RTP header as AAD, the payload
  // encrypted, a 16-byte tag; then decrypted and the tag checked.
  uint8_t key_[16];
  uint8_t iv_[12];
  EVP_CIPHER_CTX* enc_ = nullptr;
  EVP_CIPHER_CTX* dec_ = nullptr;
  const std::vector<uint8_t> tmpl_ = MakeRtpTemplate();
  std::vector<uint8_t> buf_ = std::vector<uint8_t>(kPacketSize + 16);
};

void Print(const char* name, const Figure& f) {
  std::printf("%-34s %10.0f packets/s  %6.2f Gbit/s\n", name, f.packets_per_s, f.gbit_per_s());
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2.0;
  int rounds = 5;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (a == "--rounds" && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: srtp_bench [--seconds S] [--rounds N]\n");
      return 64;
    }
  }
  if (!(seconds > 0 && seconds <= 600) || rounds < 1 || rounds > 1000) {
    std::fprintf(stderr, "srtp_bench: --seconds must be in (0, 600], --rounds in 1..1000\n");
    return 64;
  }
  // Stay on one core so the figure is per core and not blurred by migrations.
  int cpu = sched_getcpu();
  if (cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    (void)sched_setaffinity(0, sizeof set, &set);
  }

  SrtpBench gcm_bench(SrtpProfile::kAeadAes128Gcm);
  SrtpBench cm_bench(SrtpProfile::kAes128CmHmacSha1_80);
  EvpGcmBench evp_bench;
  Figure gcm, cm, evp;
  const double slice = seconds / rounds;
  auto best = [](Figure& b, Figure f) {
    if (f.packets_per_s > b.packets_per_s) b = f;
  };
  for (int r = 0; r < rounds; ++r) {
    best(gcm, gcm_bench.Run(slice));
    best(cm, cm_bench.Run(slice));
    best(evp, evp_bench.Run(slice));
  }

  std::printf(
      "srtp_bench: %zu-byte RTP packets, protect+unprotect per packet, one core, "
      "best of %d x %.2f s\n",
      kPacketSize, rounds, slice);
  Print("SRTP AEAD_AES_128_GCM", gcm);
  Print("SRTP AES_CM_128_HMAC_SHA1_80", cm);
  Print("raw EVP AES-128-GCM (limit)", evp);
  std::printf("ratio SRTP GCM / SRTP CM:          %.2f\n", gcm.packets_per_s / cm.packets_per_s);
  std::printf("ratio SRTP GCM / raw EVP GCM:      %.2f\n", gcm.packets_per_s / evp.packets_per_s);
  return 0;
}
