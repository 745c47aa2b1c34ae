#include "tests/unit/http/test_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>

#include "lib/base/time.hpp"

namespace collab::http::testing {

namespace {

std::string Lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

std::string Hex(const unsigned char* p, size_t n) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHex[p[i] >> 4]);
    out.push_back(kHex[p[i] & 15]);
  }
  return out;
}

std::string Fingerprint(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  X509_digest(cert, EVP_sha256(), md, &n);
  return Hex(md, n);
}

}  // namespace

Conn::~Conn() { Close(); }

bool Conn::Connect(int port, bool tls, const std::string& alpn) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return false;
  timeval tv{5, 0};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    Close();
    return false;
  }
  if (!tls) return true;
  ctx_ = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
  ssl_ = SSL_new(ctx_);
  SSL_set_fd(ssl_, fd_);
  SSL_set_tlsext_host_name(ssl_, "localhost");
  if (!alpn.empty()) {
    std::string wire(1, static_cast<char>(alpn.size()));
    wire += alpn;
    SSL_set_alpn_protos(ssl_, reinterpret_cast<const unsigned char*>(wire.data()), static_cast<unsigned>(wire.size()));
  }
  if (SSL_connect(ssl_) != 1) {
    ERR_clear_error();
    Close();
    return false;
  }
  return true;
}

bool Conn::Write(std::string_view data) {
  while (!data.empty()) {
    int n;
    if (ssl_) {
      n = SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
    } else {
      n = static_cast<int>(::send(fd_, data.data(), data.size(), MSG_NOSIGNAL));
    }
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

int Conn::Read(char* buf, size_t n) {
  if (!pending.empty()) {
    size_t take = std::min(n, pending.size());
    std::memcpy(buf, pending.data(), take);
    pending.erase(0, take);
    return static_cast<int>(take);
  }
  if (fd_ < 0) return -1;
  if (ssl_) {
    int r = SSL_read(ssl_, buf, static_cast<int>(n));
    if (r > 0) return r;
    int err = SSL_get_error(ssl_, r);
    ERR_clear_error();
    return err == SSL_ERROR_ZERO_RETURN ? 0 : -1;
  }
  ssize_t r = ::recv(fd_, buf, n, 0);
  if (r < 0) return -1;
  return static_cast<int>(r);
}

bool Conn::ReadExact(size_t n, std::string* out) {
  char buf[16384];
  while (n > 0) {
    int r = Read(buf, std::min(n, sizeof(buf)));
    if (r <= 0) return false;
    out->append(buf, static_cast<size_t>(r));
    n -= static_cast<size_t>(r);
  }
  return true;
}

void Conn::Close() {
  if (ssl_) {
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  if (ctx_) {
    SSL_CTX_free(ctx_);
    ctx_ = nullptr;
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

std::string Conn::PeerCertFingerprint() const {
  if (!ssl_) return "";
  X509* cert = SSL_get1_peer_certificate(ssl_);
  if (!cert) return "";
  std::string fp = Fingerprint(cert);
  X509_free(cert);
  return fp;
}

std::string Conn::AlpnSelected() const {
  if (!ssl_) return "";
  const unsigned char* p = nullptr;
  unsigned int n = 0;
  SSL_get0_alpn_selected(ssl_, &p, &n);
  return std::string(reinterpret_cast<const char*>(p), n);
}

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (n == name) return v;
  return "";
}

bool HttpResponse::HasHeader(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (n == name) return true;
  return false;
}

HttpResponse ReadResponse(Conn& conn, bool head) {
  HttpResponse resp;
  std::string data;
  char buf[16384];
  while (true) {
    size_t end = data.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (data.size() > 1 << 20) return resp;
      int r = conn.Read(buf, sizeof(buf));
      if (r <= 0) return resp;
      data.append(buf, static_cast<size_t>(r));
      continue;
    }
    std::string head_block = data.substr(0, end);
    data.erase(0, end + 4);
    if (head_block.rfind("HTTP/1.", 0) != 0 || head_block.size() < 12) return resp;
    int status = std::atoi(head_block.c_str() + 9);
    if (status == 100 || status == 102 || status == 103) continue;  // interim responses
    resp.status = status;
    size_t pos = head_block.find("\r\n");
    while (pos != std::string::npos) {
      size_t next = head_block.find("\r\n", pos + 2);
      std::string line = head_block.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(" \t"));
        resp.headers.emplace_back(Lower(line.substr(0, colon)), value);
      }
      pos = next;
    }
    break;
  }
  conn.pending = data + conn.pending;
  if (head || resp.status == 204 || resp.status == 304) return resp;
  std::string cl = resp.Header("content-length");
  if (!cl.empty()) {
    if (!conn.ReadExact(static_cast<size_t>(std::atoll(cl.c_str())), &resp.body)) resp.status = -resp.status;
    return resp;
  }
  if (Lower(resp.Header("transfer-encoding")) == "chunked") {
    std::string raw;
    while (true) {
      size_t crlf;
      while ((crlf = raw.find("\r\n")) == std::string::npos) {
        int r = conn.Read(buf, sizeof(buf));
        if (r <= 0) return resp;
        raw.append(buf, static_cast<size_t>(r));
      }
      size_t size = std::strtoul(raw.c_str(), nullptr, 16);
      raw.erase(0, crlf + 2);
      if (size == 0) break;
      while (raw.size() < size + 2) {
        int r = conn.Read(buf, sizeof(buf));
        if (r <= 0) return resp;
        raw.append(buf, static_cast<size_t>(r));
      }
      resp.body += raw.substr(0, size);
      raw.erase(0, size + 2);
    }
    return resp;
  }
  while (true) {
    int r = conn.Read(buf, sizeof(buf));
    if (r <= 0) break;
    resp.body.append(buf, static_cast<size_t>(r));
  }
  return resp;
}

std::string BuildRequest(const std::string& method, const std::string& target,
                         const std::vector<std::pair<std::string, std::string>>& headers, const std::string& body,
                         bool close) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (close) req += "Connection: close\r\n";
  bool has_cl = false;
  for (const auto& [n, v] : headers) {
    req += n + ": " + v + "\r\n";
    if (Lower(n) == "content-length" || Lower(n) == "transfer-encoding") has_cl = true;
  }
  if (!has_cl && (!body.empty() || method == "POST" || method == "PUT"))
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n";
  req += body;
  return req;
}

HttpResponse Fetch(int port, const std::string& method, const std::string& target,
                   const std::vector<std::pair<std::string, std::string>>& headers, const std::string& body, bool tls) {
  Conn conn;
  if (!conn.Connect(port, tls, tls ? "http/1.1" : "")) return {};
  if (!conn.Write(BuildRequest(method, target, headers, body))) return {};
  return ReadResponse(conn, method == "HEAD");
}

int WsFrame::close_code() const {
  if (opcode != 8 || payload.size() < 2) return 0;
  return (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]);
}

int WsClient::Connect(int port, const std::string& path, bool tls, const std::string& subprotocol) {
  if (!conn_.Connect(port, tls, tls ? "http/1.1" : "")) return 0;
  unsigned char nonce[16];
  RAND_bytes(nonce, sizeof(nonce));
  unsigned char key[32];
  EVP_EncodeBlock(key, nonce, sizeof(nonce));
  std::string req = "GET " + path +
                    " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " +
                    std::string(reinterpret_cast<char*>(key)) + "\r\n";
  if (!subprotocol.empty()) req += "Sec-WebSocket-Protocol: " + subprotocol + "\r\n";
  req += "\r\n";
  if (!conn_.Write(req)) return 0;
  handshake_ = ReadResponse(conn_, /*head=*/true);
  if (handshake_.status != 101) {
    // Error responses carry a body; read it so tests can look at it.
    std::string cl = handshake_.Header("content-length");
    if (!cl.empty()) conn_.ReadExact(static_cast<size_t>(std::atoll(cl.c_str())), &handshake_.body);
    return handshake_.status;
  }
  // Check the accept hash: base64(sha1(key + GUID)).
  std::string src = std::string(reinterpret_cast<char*>(key)) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char sha[20];
  unsigned int n = 0;
  EVP_Digest(src.data(), src.size(), sha, &n, EVP_sha1(), nullptr);
  unsigned char accept[64];
  EVP_EncodeBlock(accept, sha, 20);
  if (handshake_.Header("sec-websocket-accept") != reinterpret_cast<char*>(accept)) return -1;
  return 101;
}

bool WsClient::SendFrame(int opcode, bool fin, std::string_view payload) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | opcode));
  size_t n = payload.size();
  if (n < 126) {
    f.push_back(static_cast<char>(0x80 | n));
  } else if (n < 65536) {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xff));
  } else {
    f.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((static_cast<uint64_t>(n) >> (8 * i)) & 0xff));
  }
  unsigned char mask[4];
  RAND_bytes(mask, 4);
  f.append(reinterpret_cast<char*>(mask), 4);
  for (size_t i = 0; i < n; ++i) f.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
  return conn_.Write(f);
}

bool WsClient::Send(std::string_view payload, bool binary, int fragments) {
  if (fragments < 1) fragments = 1;
  size_t per = (payload.size() + static_cast<size_t>(fragments) - 1) / static_cast<size_t>(fragments);
  if (per == 0) per = 1;
  int opcode = binary ? 2 : 1;
  size_t off = 0;
  do {
    size_t n = std::min(per, payload.size() - off);
    bool last = off + n >= payload.size();
    if (!SendFrame(opcode, last, payload.substr(off, n))) return false;
    opcode = 0;
    off += n;
  } while (off < payload.size());
  return true;
}

bool WsClient::SendClose(int code) {
  std::string p;
  p.push_back(static_cast<char>(code >> 8));
  p.push_back(static_cast<char>(code & 0xff));
  return SendFrame(8, true, p);
}

WsFrame WsClient::Read() {
  WsFrame msg;
  std::string data;
  while (true) {
    std::string hdr;
    if (!conn_.ReadExact(2, &hdr)) return msg;
    bool fin = hdr[0] & 0x80;
    int opcode = hdr[0] & 0x0f;
    uint64_t len = static_cast<unsigned char>(hdr[1]) & 0x7f;
    if (hdr[1] & 0x80) return msg;  // servers must not mask
    std::string ext;
    if (len == 126) {
      if (!conn_.ReadExact(2, &ext)) return msg;
      len = (static_cast<unsigned char>(ext[0]) << 8) | static_cast<unsigned char>(ext[1]);
    } else if (len == 127) {
      if (!conn_.ReadExact(8, &ext)) return msg;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | static_cast<unsigned char>(ext[i]);
    }
    std::string payload;
    if (!conn_.ReadExact(static_cast<size_t>(len), &payload)) return msg;
    if (opcode == 9) {  // ping
      SendFrame(10, true, payload);
      continue;
    }
    if (opcode == 10) continue;
    if (opcode == 8) {
      // Answer like a browser does, so the server need not wait for its close timeout.
      SendFrame(8, true, payload.substr(0, 2));
      msg.opcode = 8;
      msg.payload = payload;
      return msg;
    }
    if (opcode != 0) msg.opcode = opcode;
    data += payload;
    if (fin) {
      msg.payload = std::move(data);
      return msg;
    }
  }
}

bool RunUntil(uv_loop_t* loop, const std::function<bool()>& pred, int timeout_ms) {
  // A short repeating timer makes UV_RUN_ONCE return often enough to re-check pred.
  uv_timer_t tick;
  uv_timer_init(loop, &tick);
  uv_timer_start(
      &tick, [](uv_timer_t*) {}, 5, 5);
  int64_t deadline = base::MonotonicMs() + timeout_ms;
  bool ok = pred();
  while (!ok && base::MonotonicMs() < deadline) {
    uv_run(loop, UV_RUN_ONCE);
    ok = pred();
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
  uv_run(loop, UV_RUN_NOWAIT);
  return ok;
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/collab-http-test-XXXXXX";
  char* p = ::mkdtemp(tmpl);
  path = p ? p : "";
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path.empty()) std::filesystem::remove_all(path, ec);
}

std::string MakeSelfSignedCert(const std::string& dir, const std::string& name, const std::string& cn) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  static std::mt19937_64 rng(std::random_device{}());
  ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), rng() >> 2);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
  X509_set_pubkey(x, key);
  X509_NAME* subject = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(x, subject);
  X509_sign(x, key, EVP_sha256());
  FILE* f = std::fopen((dir + "/" + name + ".crt").c_str(), "w");
  PEM_write_X509(f, x);
  std::fclose(f);
  f = std::fopen((dir + "/" + name + ".key").c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  std::string fp = Fingerprint(x);
  X509_free(x);
  EVP_PKEY_free(key);
  return fp;
}

}  // namespace collab::http::testing
