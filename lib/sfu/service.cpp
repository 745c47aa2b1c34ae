#include "lib/sfu/service.hpp"

#include "lib/base/log.hpp"
#include "lib/config/config.hpp"
#include "lib/rtc/certificate.hpp"
#include "lib/rtc/transport.hpp"
#include "lib/sfu/echo.hpp"

namespace collab::sfu {

namespace {

class Service final : public daemon::Service {
 public:
  base::Status Start(daemon::Context& ctx) override {
    const config::Config& cfg = ctx.config();
    rtc::RtcSocketsConfig sc;
    sc.udp_listen = cfg.GetString("sfu.rtc_udp_listen");
    sc.tcp_listen = cfg.GetString("sfu.rtc_tcp_listen");
    auto sockets = rtc::RtcSockets::Start(ctx.loop(), sc);
    if (!sockets) return base::MakeError(base::kExitConfig, sockets.error().message);
    sockets_ = std::move(sockets).value();
    auto cert = rtc::Certificate::ForProcess();
    if (!cert) return cert.error();
    EchoOptions eo;
    eo.max_peers = static_cast<size_t>(cfg.GetInt("sfu.max_echo_peers"));
    eo.announced_addresses = cfg.GetStringList("sfu.announced_addresses");
    eo.web_dir = cfg.GetPath("paths.web_dir");
    echo_ = std::make_unique<EchoService>(*sockets_, *cert, eo);
    echo_->Register(ctx.http());
    LOG_INFO("rtc media on udp %s, ice-tcp %s", sockets_->udp_address().ToString().c_str(),
             sockets_->tcp_address() ? sockets_->tcp_address()->ToString().c_str() : "off");
    return base::Ok();
  }

  void Drain(daemon::Context&, std::function<void()> done) override {
    // The sockets' handles must be closed while the loop still runs.
    echo_.reset();
    sockets_.reset();
    done();
  }

  std::string StaticDir(const config::Config& cfg) const override { return cfg.GetPath("paths.web_dir"); }

  void AddStatus(const daemon::Context&, base::Json& status) const override {
    base::Json rtc = base::Json::MakeObject();
    if (sockets_) {
      rtc.Set("udp", sockets_->udp_address().ToString());
      if (sockets_->tcp_address()) rtc.Set("tcp", sockets_->tcp_address()->ToString());
      rtc.Set("transports", static_cast<int64_t>(sockets_->transport_count()));
      rtc.Set("tcp_connections", static_cast<int64_t>(sockets_->tcp_connection_count()));
      rtc.Set("dropped_unrouted", static_cast<int64_t>(sockets_->dropped_unrouted()));
    }
    status.Set("rtc", std::move(rtc));
    if (echo_) echo_->AddStatus(status);
  }

 private:
  std::unique_ptr<rtc::RtcSockets> sockets_;
  std::unique_ptr<EchoService> echo_;
};

}  // namespace

std::unique_ptr<daemon::Service> MakeService() { return std::make_unique<Service>(); }

}  // namespace collab::sfu
