#pragma once
// targets/null_target.h: `null:` discards every record (benchmarks, dry runs).
// read_state() is nullopt: it cannot be verified. Stateless, so any thread may use it.
#include "targets/target.h"

namespace syncline::targets {

class null_target final : public target {
public:
    delivery_outcome deliver(std::span<const record_view> records) override;
    result<std::optional<state_map>> read_state() override;
};

}  // namespace syncline::targets
