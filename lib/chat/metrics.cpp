// Prometheus text exposition (version 0.0.4) of the chat server's counters and gauges.
#include <cstdio>

#include "lib/chat/chat.hpp"
#include "lib/store/db.hpp"

namespace collab::chat {

std::string Chat::Metrics() const {
  std::string out;
  auto line = [&](const char* name, const char* type, const char* help, double v) {
    char buf[512];
    std::snprintf(buf, sizeof buf, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
    out += buf;
  };
  const ChatCounters& c = counters_;
  line("collab_chat_messages_posted_total", "counter", "Messages stored and acknowledged.", c.messages_posted);
  line("collab_chat_messages_updated_total", "counter", "Edits, deletions, reactions and pins stored.",
       c.messages_updated);
  line("collab_chat_deliveries_total", "counter", "Room events written to WebSockets.", c.deliveries);
  line("collab_chat_logins_total", "counter", "Successful logins.", c.logins_ok);
  line("collab_chat_login_failures_total", "counter", "Failed logins.", c.logins_failed);
  line("collab_chat_login_lockouts_total", "counter", "Logins refused by the failure limit.", c.logins_locked);
  line("collab_chat_http_requests_total", "counter", "API requests.", c.http_requests);
  line("collab_chat_http_client_errors_total", "counter", "API requests answered 4xx.", c.http_client_errors);
  line("collab_chat_durable_write_failures_total", "counter", "Durable writes that failed.", c.durable_failures);
  line("collab_chat_websockets_opened_total", "counter", "WebSocket sessions opened.", c.ws_opened);
  line("collab_chat_retention_deleted_total", "counter", "Messages deleted by retention.", c.retention_deleted);
  line("collab_chat_ldap_syncs_total", "counter", "Directory syncs completed.", c.ldap_syncs);
  line("collab_chat_ldap_sync_failures_total", "counter", "Directory syncs that failed.", c.ldap_sync_failures);
  size_t online = 0;
  for (const auto& [u, s] : user_sockets_)
    if (!s.empty()) ++online;
  line("collab_chat_websockets", "gauge", "Open WebSocket sessions.", static_cast<double>(WsCount()));
  line("collab_chat_users_online", "gauge", "Users with at least one WebSocket.", static_cast<double>(online));
  line("collab_chat_users", "gauge", "Accounts.", static_cast<double>(users_.size()));
  line("collab_chat_rooms", "gauge", "Rooms.", static_cast<double>(rooms_.size()));
  line("collab_chat_sessions", "gauge", "Login sessions.", static_cast<double>(sessions_.size()));
  line("collab_chat_db_sync_writes_total", "counter", "Synced group-commit writes (fsyncs of the WAL).",
       static_cast<double>(db_->sync_writes()));
  out += "# HELP collab_chat_ack_latency_ms Time from accepting a message to its durable acknowledgement.\n";
  out += "# TYPE collab_chat_ack_latency_ms histogram\n";
  uint64_t cum = 0;
  char buf[160];
  for (size_t i = 0; i < 11; ++i) {
    cum += c.ack_buckets[i];
    std::snprintf(buf, sizeof buf, "collab_chat_ack_latency_ms_bucket{le=\"%g\"} %llu\n", kAckBucketsMs[i],
                  static_cast<unsigned long long>(cum));
    out += buf;
  }
  cum += c.ack_buckets[11];
  std::snprintf(buf, sizeof buf, "collab_chat_ack_latency_ms_bucket{le=\"+Inf\"} %llu\n",
                static_cast<unsigned long long>(cum));
  out += buf;
  std::snprintf(buf, sizeof buf, "collab_chat_ack_latency_ms_sum %.17g\ncollab_chat_ack_latency_ms_count %llu\n",
                c.ack_sum_ms, static_cast<unsigned long long>(c.ack_count));
  out += buf;
  return out;
}

}  // namespace collab::chat
