#include "lib/chat/service.hpp"

#include "lib/config/config.hpp"

namespace collab::chat {

namespace {

class ChatService final : public daemon::Service {
 public:
  base::Status Start(daemon::Context&) override { return base::Ok(); }
  std::string StaticDir(const config::Config& cfg) const override { return cfg.GetPath("paths.web_dir"); }
};

}  // namespace

std::unique_ptr<daemon::Service> MakeService() { return std::make_unique<ChatService>(); }

}  // namespace collab::chat
