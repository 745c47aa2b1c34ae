#include "lib/stream/service.hpp"

namespace collab::stream {

namespace {

class Service final : public daemon::Service {
 public:
  base::Status Start(daemon::Context&) override { return base::Ok(); }
};

}  // namespace

std::unique_ptr<daemon::Service> MakeService() { return std::make_unique<Service>(); }

}  // namespace collab::stream
