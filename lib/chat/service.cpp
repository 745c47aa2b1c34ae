#include "lib/chat/service.hpp"

#include "lib/base/log.hpp"
#include "lib/chat/chat.hpp"
#include "lib/config/config.hpp"
#include "lib/daemon/daemon.hpp"

namespace collab::chat {

namespace {

class ChatService final : public daemon::Service {
 public:
  base::Status Start(daemon::Context& ctx) override {
    COLLAB_ASSIGN_OR_RETURN(ChatOptions opts, OptionsFromConfig(ctx.config()));
    COLLAB_ASSIGN_OR_RETURN(chat_, Chat::Open(ctx.loop(), std::move(opts)));
    chat_->RegisterHttp(ctx.http());
    chat_->RegisterControl(ctx.control());
    chat_->RegisterWebhooks(ctx.http(), ctx.control());
    chat_->RegisterHelpdesk(ctx.control());
    return base::Ok();
  }
  base::Status Reload(daemon::Context&, const config::Config& next) override {
    COLLAB_ASSIGN_OR_RETURN(ChatOptions opts, OptionsFromConfig(next));
    return chat_->Reload(std::move(opts));
  }
  void Drain(daemon::Context&, std::function<void()> done) override {
    if (!chat_) return done();
    chat_->Drain(std::move(done));
  }
  std::string StaticDir(const config::Config& cfg) const override { return cfg.GetPath("paths.web_dir"); }
  size_t MaxUploadBytes(const config::Config& cfg) const override {
    return static_cast<size_t>(cfg.GetInt("chatd.max_file_bytes")) + 4096;
  }
  void AddStatus(const daemon::Context&, base::Json& status) const override {
    if (chat_) chat_->AddStatus(status);
  }

 private:
  std::unique_ptr<Chat> chat_;
};

}  // namespace

std::unique_ptr<daemon::Service> MakeService() { return std::make_unique<ChatService>(); }

}  // namespace collab::chat
