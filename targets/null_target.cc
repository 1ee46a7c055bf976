#include "targets/null_target.h"

namespace syncline::targets {

delivery_outcome null_target::deliver(std::span<const record_view>) { return {}; }

result<std::optional<state_map>> null_target::read_state() { return std::optional<state_map>{}; }

}  // namespace syncline::targets
