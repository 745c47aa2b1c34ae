// Test-only helpers for lib/http: a blocking HTTP/1.1 and WebSocket client over plain TCP or
// OpenSSL (run it on a thread while the test thread runs the server's uv loop), a loop runner
// that waits for conditions with a deadline, and self-signed certificates made with the OpenSSL
// API. Every socket operation has a timeout so a broken server fails a test instead of hanging.
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>
#include <future>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace collab::http::testing {

class Conn {
 public:
  Conn() = default;
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // Connects to 127.0.0.1:port; with tls, does a TLS handshake (no verification) offering the
  // ALPN protocol when non-empty.
  bool Connect(int port, bool tls = false, const std::string& alpn = "");
  bool Write(std::string_view data);
  // Reads up to n bytes; 0 on orderly close, -1 on error or timeout.
  int Read(char* buf, size_t n);
  // Reads exactly n bytes into out (appending); false on EOF/timeout first.
  bool ReadExact(size_t n, std::string* out);
  void Close();
  // SHA-256 of the server certificate's DER, hex; "" when not TLS.
  std::string PeerCertFingerprint() const;
  std::string AlpnSelected() const;
  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  // Bytes read but not consumed yet (kept between a response head and its body).
  std::string pending;

 private:
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

struct HttpResponse {
  int status = 0;                                            // 0 when no response could be read
  std::vector<std::pair<std::string, std::string>> headers;  // lowercase names
  std::string body;
  std::string Header(std::string_view name) const;
  bool HasHeader(std::string_view name) const;
};

// Writes nothing; reads one response (skipping 1xx) from conn. head: no body follows.
HttpResponse ReadResponse(Conn& conn, bool head = false);
// Builds a request with Host and Content-Length (when body non-empty or method is POST/PUT).
std::string BuildRequest(const std::string& method, const std::string& target,
                         const std::vector<std::pair<std::string, std::string>>& headers = {},
                         const std::string& body = "", bool close = true);
// One request on a fresh connection.
HttpResponse Fetch(int port, const std::string& method, const std::string& target,
                   const std::vector<std::pair<std::string, std::string>>& headers = {}, const std::string& body = "",
                   bool tls = false);

struct WsFrame {
  int opcode = -1;  // 1 text, 2 binary, 8 close; -1 when nothing could be read
  std::string payload;
  int close_code() const;
};

class WsClient {
 public:
  // Handshake on path; returns the HTTP status (101 on success) and keeps the response.
  int Connect(int port, const std::string& path, bool tls = false, const std::string& subprotocol = "");
  const HttpResponse& handshake() const { return handshake_; }
  // Sends a masked message, split into `fragments` frames.
  bool Send(std::string_view payload, bool binary = false, int fragments = 1);
  bool SendClose(int code);
  // Next data or close frame (answers pings, reassembles continuations).
  WsFrame Read();
  Conn& conn() { return conn_; }

 private:
  bool SendFrame(int opcode, bool fin, std::string_view payload);
  Conn conn_;
  HttpResponse handshake_;
};

// Runs the loop until pred() is true or the timeout passes; returns pred().
bool RunUntil(uv_loop_t* loop, const std::function<bool()>& pred, int timeout_ms = 10000);

// Runs f on another thread while the loop runs here; returns f's result.
template <typename F>
auto WithLoop(uv_loop_t* loop, F&& f) -> decltype(f()) {
  auto fut = std::async(std::launch::async, std::forward<F>(f));
  RunUntil(
      loop, [&] { return fut.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }, 30000);
  return fut.get();
}

// A temp dir removed on destruction.
struct TempDir {
  TempDir();
  ~TempDir();
  std::string path;
};

// Writes a self-signed P-256 certificate for CN=cn to dir/<name>.crt and dir/<name>.key;
// returns the SHA-256 fingerprint of its DER (same format as PeerCertFingerprint).
std::string MakeSelfSignedCert(const std::string& dir, const std::string& name, const std::string& cn);

}  // namespace collab::http::testing
