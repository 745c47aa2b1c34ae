#include "lib/sfu/service.hpp"

namespace collab::sfu {

namespace {

class Service final : public daemon::Service {
 public:
  base::Status Start(daemon::Context&) override { return base::Ok(); }
};

}  // namespace

std::unique_ptr<daemon::Service> MakeService() { return std::make_unique<Service>(); }

}  // namespace collab::sfu
