// The RTMP ingest listener: TCP on the daemon's libuv loop, one RtmpSession per connection,
// bounded (connection count, handshake/publish deadline, idle timeout) so stuck or hostile
// peers cannot pile up. Publish decisions and media go to the owner through callbacks.
// Deliberately not here: what a stream is (lib/stream/service.cpp), TLS (RTMPS), playing.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "lib/base/result.hpp"
#include "lib/stream/rtmp_session.hpp"

namespace collab::stream {

struct RtmpServerOptions {
  std::string host = "127.0.0.1";
  int port = 1935;  // 0 picks a free port
  size_t max_connections = 64;
  int setup_timeout_ms = 15000;  // from accept until publishing
  int idle_timeout_ms = 30000;   // a publisher that sends nothing for this long is dropped
};

class RtmpServer {
 public:
  struct Handlers {
    std::function<RtmpPublishDecision(uint64_t conn, const std::string& peer_ip, const RtmpPublishRequest&)> on_publish;
    std::function<void(uint64_t conn, const RtmpMedia&)> on_media;
    // Called once for a connection that was publishing, when it unpublishes or goes away.
    std::function<void(uint64_t conn)> on_end;
  };

  [[nodiscard]] static base::Result<std::unique_ptr<RtmpServer>> Listen(uv_loop_t* loop, const RtmpServerOptions& options,
                                                                        Handlers handlers);
  // Closes the listener and every connection; the loop must run afterwards to free handles.
  ~RtmpServer();
  RtmpServer(const RtmpServer&) = delete;
  RtmpServer& operator=(const RtmpServer&) = delete;

  // "127.0.0.1:1935" with the bound port.
  std::string address() const;
  int port() const { return port_; }
  size_t connection_count() const { return conns_.size(); }
  // Drops a connection (kick); its on_end runs if it was publishing. False when unknown.
  bool Disconnect(uint64_t conn);
  // Stops accepting and drops every connection.
  void Close();

  struct Conn;

 private:
  RtmpServer(uv_loop_t* loop, RtmpServerOptions options, Handlers handlers);
  void OnConnection();
  void CloseConn(Conn* c, const std::string& why, bool flush);
  void OnTick();

  uv_loop_t* loop_;
  RtmpServerOptions options_;
  Handlers handlers_;
  uv_tcp_t* listener_ = nullptr;
  uv_timer_t* timer_ = nullptr;
  int port_ = 0;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Conn*> conns_;
  bool closed_ = false;
};

}  // namespace collab::stream
